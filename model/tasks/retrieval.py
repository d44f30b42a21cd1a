"""Which parts of other files a completion should see: pure functions, shared by the server
(server/context.py, over open documents and the workspace index) and `wingman eval` (over a
held-out repository), so both measure and serve the same selection.

In priority order (the issue's, after CrossCodeEval, Copilot and Continue):
1. definitions of the names used near the cursor that live in other files: the names this file
   imports (`from m import f`, `import m` then `m.f`), resolved to files by the caller, and the
   names defined in other open files. Python through `ast`; a file that does not parse is
   skipped, since what it defines cannot be trusted;
2. windows of lines from other files, ranked by BM25 over identifiers against the lines around
   the cursor (Jaccard ranks almost the same on code and was not kept).

The query leaves out the cursor's own line, so typing within a line picks the same context and
the prompt's cached head survives; it changes when the cursor moves to other lines or other
files change.
"""

from __future__ import annotations

import ast
import functools
import keyword
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from model.tasks.repo_context import ContextFile

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([\w \t,]+)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([\w., \t]+)", re.MULTILINE)
STOP = frozenset(keyword.kwlist) | {"self", "cls", "None", "True", "False", "return", "print", "len", "str", "int"}
QUERY_LINES = 12  # lines above the cursor that make the query
WINDOW_LINES, WINDOW_STRIDE = 16, 8
MAX_DEF_LINES = 24  # a definition longer than this is shown by its head (signature, docstring)
MAX_OTHER_IMPORTS = 8  # imported names not used near the cursor whose definitions are looked up


def identifiers(text: str) -> list[str]:
    return [t for t in _IDENT.findall(text) if t not in STOP and len(t) > 1]


def query_text(prefix: str, suffix: str) -> str:
    """The lines around the cursor, without the cursor's own line (see the module's note)."""
    above = prefix.rsplit("\n", 1)[0] if "\n" in prefix else ""
    below = suffix.split("\n", 1)[1] if "\n" in suffix else ""
    return "\n".join(above.split("\n")[-QUERY_LINES:] + below.split("\n")[:4])


# ---- imports and definitions --------------------------------------------------------------
@dataclass(frozen=True)
class Imported:
    module: str  # as written: "pkg.mod", ".mod", "..", "pkg"
    name: str | None  # the imported name (`from m import name`), None for `import m`


def imports(text: str) -> dict[str, Imported]:
    """Local name -> what it refers to. By regex, not `ast`: the file being edited rarely parses."""
    out: dict[str, Imported] = {}
    for m in _FROM.finditer(text):
        for part in m.group(2).split(","):
            bits = part.split()
            if not bits or bits[0] == "*":
                continue
            local = bits[2] if len(bits) == 3 and bits[1] == "as" else bits[0]
            out[local] = Imported(m.group(1), bits[0])
    for m in _IMPORT.finditer(text):
        for part in m.group(1).split(","):
            bits = part.split()
            if not bits:
                continue
            if len(bits) == 3 and bits[1] == "as":  # import a.b as x: x is a.b
                out[bits[2]] = Imported(bits[0], None)
            else:  # import a.b: the name bound is a
                out[bits[0].split(".")[0]] = Imported(bits[0].split(".")[0], None)
    return out


def star_imports(text: str) -> list[str]:
    return [m.group(1) for m in _FROM.finditer(text) if m.group(2).strip() == "*"]


@functools.lru_cache(maxsize=64)
def definitions(text: str) -> dict[str, str]:
    """Top-level functions, classes and constants of a Python file: name -> its source, a long
    function cut to its head and a class to its head and its methods' signatures. Cached by the
    text (a str caches its hash): an unchanged file is parsed once. Callers must not mutate it."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    lines = text.split("\n")
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([d.lineno for d in node.decorator_list] + [node.lineno]) - 1
            end = node.end_lineno or node.lineno
            if end - start <= MAX_DEF_LINES:
                out[node.name] = "\n".join(lines[start:end]) + "\n"
            elif isinstance(node, ast.ClassDef):
                out[node.name] = _class_outline(node, lines, start)
            else:
                out[node.name] = _head(node, lines, start)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and (node.end_lineno or node.lineno) - node.lineno < 4:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    out[t.id] = "\n".join(lines[node.lineno - 1: node.end_lineno or node.lineno]) + "\n"
    return out


def _head(node, lines: list[str], start: int) -> str:
    """The signature and the docstring (or the first lines) of a long function."""
    body0 = node.body[0]
    doc = isinstance(body0, ast.Expr) and isinstance(getattr(body0, "value", None), ast.Constant) \
        and isinstance(body0.value.value, str)
    stop = (body0.end_lineno or body0.lineno) if doc else body0.lineno - 1
    stop = min(stop, start + MAX_DEF_LINES)
    indent = re.match(r"\s*", lines[body0.lineno - 1]).group()
    return "\n".join(lines[start:stop] + [indent + "..."]) + "\n"


def _class_outline(node: ast.ClassDef, lines: list[str], start: int) -> str:
    first = node.body[0]
    out = lines[start: first.lineno - 1]
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.extend(_head(item, lines, min([d.lineno for d in item.decorator_list] + [item.lineno]) - 1)
                       .rstrip("\n").split("\n"))
        elif isinstance(item, (ast.Assign, ast.AnnAssign)) or (isinstance(item, ast.Expr) and item is first):
            out.extend(lines[item.lineno - 1: item.end_lineno or item.lineno])
        if len(out) > 3 * MAX_DEF_LINES:
            break
    return "\n".join(out) + "\n"


# ---- BM25 over windows of lines ------------------------------------------------------------
@dataclass(frozen=True)
class Snippet:
    path: str
    start_line: int
    text: str


def windows(path: str, text: str, size: int = WINDOW_LINES, stride: int = WINDOW_STRIDE,
            max_windows: int = 400) -> list[Snippet]:
    lines = text.split("\n")
    out = []
    for start in range(0, max(1, len(lines) - size + stride), stride):
        chunk = "\n".join(lines[start: start + size])
        if chunk.strip():
            out.append(Snippet(path, start, chunk + "\n"))
        if len(out) >= max_windows:
            break
    return out


@functools.lru_cache(maxsize=64)
def _windows_tokens(path: str, text: str) -> tuple[tuple[Snippet, list[str]], ...]:
    return tuple((w, identifiers(w.text)) for w in windows(path, text))


def bm25(query: list[str], docs: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    if not docs or not query:
        return [0.0] * len(docs)
    n = len(docs)
    avg = sum(len(d) for d in docs) / n or 1.0
    df: Counter = Counter()
    for d in docs:
        df.update(set(d))
    q = set(query)
    scores = []
    for d in docs:
        tf = Counter(d)
        s = 0.0
        for t in q:
            f = tf.get(t, 0)
            if f:
                idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(d) / avg))
        scores.append(s)
    return scores


# ---- the selection -------------------------------------------------------------------------
Resolver = Callable[[str, str | None], "tuple[str, str] | None"]  # (module, name) -> (path, text)


def select(prefix: str, suffix: str, others: Sequence[tuple[str, str]], resolve: Resolver | None = None,
           max_chars: int = 6000, max_snippets: int = 3) -> tuple[ContextFile, ...]:
    """The context for a completion, most useful first, within `max_chars` characters.

    `others`: (path, text) of other open or recently edited files; `resolve(module, name)`: the
    workspace file an import refers to, or None. Deterministic: the same inputs give the same
    context, so the prompt's head (and its KV cache) stays."""
    query = query_text(prefix, suffix)
    wanted = identifiers(query) + identifiers(prefix.rsplit("\n", 1)[-1])
    wanted_set = set(wanted)
    here_defs = set(definitions_names_regex(prefix + suffix))
    picked: dict[str, list[str]] = {}  # path -> definitions' sources, in the order found
    used = 0

    def add(path: str, source: str) -> None:
        nonlocal used
        if used + len(source) > max_chars or source in picked.get(path, []):
            return
        picked.setdefault(path, []).append(source)
        used += len(source)

    texts = {p: t for p, t in others}
    # 1. Imported names used near the cursor, resolved to their files.
    imported = imports(prefix + suffix)
    for local in _ordered(wanted):
        imp = imported.get(local)
        if imp is None or resolve is None:
            continue
        found = resolve(imp.module, imp.name) if imp.name else resolve(imp.module, None)
        if found is None:
            continue
        path, text = found
        texts.setdefault(path, text)
        defs = definitions(text)
        if imp.name is not None and imp.name in defs:
            add(path, defs[imp.name])
        elif imp.name is None:  # `import m`: the attributes of m used near the cursor
            attrs = re.findall(rf"\b{re.escape(local)}\.([A-Za-z_]\w*)", query + prefix.rsplit("\n", 1)[-1])
            for a in _ordered(attrs):
                if a in defs:
                    add(path, defs[a])
        elif imp.name is not None and imp.name not in defs:  # `from pkg import module`
            sub = resolve(f"{imp.module}.{imp.name}" if not imp.module.endswith(".") else imp.module + imp.name, None)
            if sub is not None:
                texts.setdefault(sub[0], sub[1])
                sub_defs = definitions(sub[1])
                attrs = re.findall(rf"\b{re.escape(local)}\.([A-Za-z_]\w*)", query)
                for a in _ordered(attrs):
                    if a in sub_defs:
                        add(sub[0], sub_defs[a])
    # Then the other names this file imports from the workspace, the most recently used first:
    # the file's imports say what it works with, even where the lines near the cursor do not.
    if resolve is not None:
        uses = {n: prefix.rfind(n) for n in imported if imported[n].name is not None and n not in wanted_set}
        for local in sorted(uses, key=lambda n: -uses[n])[:MAX_OTHER_IMPORTS]:
            imp = imported[local]
            found = resolve(imp.module, imp.name)
            if found is not None:
                texts.setdefault(found[0], found[1])
                if imp.name in (defs := definitions(found[1])):
                    add(found[0], defs[imp.name])
    # Star imports and other open files: definitions of the names used here and defined there.
    for module in star_imports(prefix + suffix):
        if resolve is not None and (found := resolve(module, None)) is not None:
            texts.setdefault(found[0], found[1])
    # The word being typed, when it is the start of a name defined elsewhere.
    typing = re.search(r"[A-Za-z_]\w*$", prefix[-200:])
    partial = typing.group() if typing and len(typing.group()) >= 2 else ""
    for path, text in texts.items():
        defs = definitions(text) if (_mentions(text, wanted_set) or (partial and partial in text)) else {}
        for name in _ordered(wanted):
            if name in defs and name not in here_defs:
                add(path, defs[name])
        if partial:
            for name in sorted(n for n in defs if n.startswith(partial) and n != partial and n not in here_defs):
                add(path, defs[name])
    # 2. The windows most like the lines around the cursor.
    q = identifiers(query)
    indexed = [pair for p, t in texts.items() for pair in _windows_tokens(p, t)]
    snippets = [s for s, _ in indexed]
    if q and snippets and used < max_chars:
        scores = bm25(q, [toks for _, toks in indexed])
        best = sorted(range(len(snippets)), key=lambda i: (-scores[i], snippets[i].path, snippets[i].start_line))
        taken = 0
        for i in best:
            if scores[i] <= 0 or taken >= max_snippets:
                break
            s = snippets[i]
            if any(s.text.strip() in d or d.strip() in s.text for d in picked.get(s.path, [])):
                continue
            before = used
            add(s.path, s.text)
            taken += used > before
    return tuple((path, "".join(_join(parts))) for path, parts in picked.items())


def _join(parts: list[str]):
    for i, part in enumerate(parts):
        yield part if i == 0 else ("\n" if not parts[i - 1].endswith("\n\n") else "") + part


def _ordered(names: list[str]) -> list[str]:
    """Unique, the nearest to the cursor (the last in the query) first."""
    seen: dict[str, None] = {}
    for n in reversed(names):
        seen.setdefault(n, None)
    return list(seen)


def _mentions(text: str, names: set[str]) -> bool:
    return any(n in text for n in names)


_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)|^([A-Za-z_]\w*)[ \t]*=", re.MULTILINE)


def definitions_names_regex(text: str) -> list[str]:
    """Names this file defines itself (by regex: it may not parse while being edited)."""
    return [a or b for a, b in _DEF.findall(text)]


def settle(previous: tuple[ContextFile, ...] | None, new: tuple[ContextFile, ...]) -> tuple[ContextFile, ...]:
    """The context to send: the previous one when every part of the new one is already in it
    (typing a name narrows the definitions it matches), so the prompt's head and its KV cache stay."""
    if previous and new:
        held = dict(previous)
        if all(p in held and code in held[p] for p, code in new):
            return previous
    return new
