"""Repository-level FIM: a FIM sample preceded by other files of the same repository, in the
repository format SmolLM2's tokenizer has tokens for:

    <repo_name>NAME<file_sep><filename>PATH_A\\nCODE_A<file_sep><filename>PATH\\n  + the FIM prompt of PATH

The context goes first: it changes far less often than the text around the cursor, so a server
that sends it keeps its KV cache (the completion-context issue). Context files are the ones the
file imports (Python `import` / `from`, JavaScript/TypeScript `import` / `require` of relative
paths), else its neighbours in the same directory; each is cut at a line to fit `context_tokens`.

The format itself (`render_context`, `file_header`, `fit`) is model/tasks/repo_context.py's, the
one the server sends, so training and serving render the same bytes; the choice of files differs
(here: what the file imports; the server: model/tasks/retrieval.py over what the editor has open).
"""

from __future__ import annotations

import posixpath
import re

from model.tasks.repo_context import FILE_SEP, FILENAME, REPO_NAME, file_header, fit, render_context

__all__ = ["REPO_NAME", "FILE_SEP", "FILENAME", "render_context", "file_header", "fit", "repo_context"]


_PY_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w*, ()]+)|import\s+([\w., ]+))", re.MULTILINE)
_JS_IMPORT = re.compile(r"""(?:from\s+|require\(\s*|import\(\s*|import\s+)['"](\.{1,2}/[^'"]+)['"]""")
JS_EXTS = (".ts", ".tsx", ".js", ".mjs", ".cjs", ".jsx", ".mts")


def _python_module(path: str) -> str:
    parts = path.removesuffix(".py").split("/")
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_paths(path: str, text: str, paths: list[str]) -> list[str]:
    """Repository files that `text` (at `path`) imports, in the order it imports them."""
    found: list[str] = []
    if path.endswith((".py", ".pyi")):
        modules = {_python_module(p): p for p in paths if p.endswith(".py")}
        here = _python_module(path).split(".")
        package = here if path.endswith("__init__.py") else here[:-1]
        for m in _PY_IMPORT.finditer(text):
            names = []
            if m.group(1) is not None:
                base = m.group(1)
                if base.startswith("."):
                    dots = len(base) - len(base.lstrip("."))
                    root = package[:len(package) - (dots - 1)] if dots - 1 <= len(package) else []
                    base = ".".join(root + ([base.lstrip(".")] if base.lstrip(".") else []))
                names.append(base)
                names += [f"{base}.{n.strip()}" for n in m.group(2).replace("(", "").replace(")", "").split(",")
                          if n.strip() and n.strip() != "*"]
            else:
                names += [n.strip().split(" as ")[0] for n in m.group(3).split(",")]
            for name in names:
                hit = modules.get(name)
                if hit and hit != path and hit not in found:
                    found.append(hit)
    elif path.endswith(JS_EXTS):
        have = set(paths)
        for m in _JS_IMPORT.finditer(text):
            base = posixpath.normpath(posixpath.join(posixpath.dirname(path), m.group(1)))
            for cand in [base, *(base + e for e in JS_EXTS), *(f"{base}/index{e}" for e in JS_EXTS)]:
                if cand in have and cand != path:
                    if cand not in found:
                        found.append(cand)
                    break
    return found


def context_files(path: str, text: str, repo: dict[str, str], max_files: int) -> list[str]:
    """The imported files, else same-directory neighbours of the same language family."""
    paths = sorted(repo)
    chosen = imported_paths(path, text, paths)[:max_files]
    if not chosen:
        folder, ext = posixpath.dirname(path), posixpath.splitext(path)[1]
        family = (".py", ".pyi") if ext in (".py", ".pyi") else JS_EXTS if ext in JS_EXTS else (ext,)
        chosen = [p for p in paths if p != path and posixpath.dirname(p) == folder and p.endswith(family)][:max_files]
    return chosen


def repo_context(repo_name: str, path: str, text: str, repo: dict[str, str], context_tokens: int, max_files: int,
                 count) -> tuple[str, int]:
    """(the rendered context up to and including the current file's header, context files used)."""
    budget = context_tokens - count(render_context(repo_name, []) + file_header(path))
    files = []
    for p in context_files(path, text, repo, max_files):
        head = f"{FILE_SEP}{FILENAME}{p}\n"
        code = fit(repo[p], budget - count(head), count)
        if not code.strip():
            break
        files.append((p, code))
        budget -= count(head + code)
    return render_context(repo_name, files) + file_header(path), len(files)
