"""Turning a model's reply into pytest tests that import the function correctly.

We keep only what we can trust from the reply: `import` lines (except of the module under test,
whose import we write ourselves) and top-level `test_*` functions; a reply cut off mid-function
loses only its last function. Names that already exist in the test file are renamed, because the
file is appended to, never overwritten.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from model.tasks.pysource import import_root, relpath


@dataclass
class TestCode:
    imports: list[str]
    functions: list[tuple[str, str]]  # (name, source)


def parse_reply(code: str, module: str) -> TestCode:
    tree = None
    lines = code.split("\n")
    while lines:
        try:
            tree = ast.parse("\n".join(lines))
            break
        except SyntaxError as exc:
            # Drop from the last top-level statement that starts at or before the error onward.
            cut = (exc.lineno or len(lines)) - 1
            while cut > 0 and (not lines[cut] or lines[cut][0].isspace()):
                cut -= 1
            lines = lines[:cut]
    if tree is None:
        return TestCode([], [])
    text = "\n".join(lines)
    top = module.split(".")[-1]
    imports, functions = [], []
    for node in tree.body:
        seg = ast.get_source_segment(text, node) or ""
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if not any(n == top or n == module or n.endswith("." + top) for n in names):
                imports.append(seg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            deco = "".join("@" + (ast.get_source_segment(text, d) or "") + "\n" for d in node.decorator_list)
            functions.append((node.name, deco + seg))
    return TestCode(imports, functions)


def header(test_file: Path, source_path: str, import_name: str) -> tuple[list[str], str]:
    """(lines that make the module importable from the test file, the import itself)."""
    folder, module = import_root(source_path)
    rel = relpath(folder, test_file.parent)
    path_line = f'sys.path.insert(0, str(Path(__file__).resolve().parent / "{rel}"))'
    return (["import sys", "from pathlib import Path", "", path_line],
            f"from {module} import {import_name}  # noqa: E402")


def render(existing: str | None, tests: TestCode, test_file: Path, source_path: str, import_name: str) -> str:
    """The text to append to `existing` (None: the file is new)."""
    setup, import_line = header(test_file, source_path, import_name)
    out: list[str] = []
    have = existing or ""
    if not re.search(r"^import sys$", have, re.M):
        out.append("import sys")
    if not re.search(r"^from pathlib import Path$", have, re.M):
        out.append("from pathlib import Path")
    for imp in tests.imports:
        if imp not in have and imp not in out:
            out.append(imp)
    if setup[-1] not in have:
        out += ["", setup[-1]]
    if import_line.split("  #")[0] not in have:
        out.append(import_line)
    taken = set(re.findall(r"^(?:async\s+)?def\s+(\w+)", have, re.M))
    for name, src in tests.functions:
        new = name
        n = 2
        while new in taken:
            new, n = f"{name}_{n}", n + 1
        taken.add(new)
        if new != name:
            src = re.sub(rf"\bdef\s+{re.escape(name)}\b", f"def {new}", src, count=1)
        out += ["", "", src]
    body = "\n".join(out).strip("\n") + "\n"
    if existing is None:
        return '"""Tests written by Wingman; review them before you trust them."""\n\n' + body
    sep = "" if existing.endswith("\n") or not existing else "\n"
    return sep + "\n\n" + body


def standalone(tests: TestCode, module: str, import_name: str) -> str:
    """A test module for a flat layout where `module` is importable as it is (evaluation)."""
    lines = [f"from {module} import {import_name}", *tests.imports]
    return "\n".join(lines) + "".join(f"\n\n\n{src}" for _, src in tests.functions) + "\n"


def test_path(root: Path, source_path: str) -> Path:
    return root / "tests" / f"test_{Path(source_path).stem}.py"
