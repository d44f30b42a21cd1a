"""Python source analysis for the commands: the function under the cursor, stubs whose body is
only a docstring or `pass`, and where a module can be imported from."""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Function:
    name: str  # "mean", or "Stack.push" for a method
    node: ast.FunctionDef | ast.AsyncFunctionDef
    source: str  # the def's text, decorators included
    start: int  # str offsets of the def in the file
    end: int


def _line_offsets(text: str) -> list[int]:
    # ast counts lines split at \n, \r\n and \r, like LSP.
    return [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]


def _offset(starts: list[int], text: str, lineno: int, col_utf8: int) -> int:
    """ast gives UTF-8 byte columns."""
    line_start = starts[lineno - 1] if lineno - 1 < len(starts) else len(text)
    line = text[line_start: starts[lineno] if lineno < len(starts) else len(text)]
    return line_start + len(line.encode("utf-8")[:col_utf8].decode("utf-8", "ignore"))


def parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def function_at(text: str, offset: int) -> Function | None:
    """The innermost function whose lines contain `offset`."""
    tree = parse(text)
    if tree is None:
        return None
    starts = _line_offsets(text)
    line = max(i for i, s in enumerate(starts) if s <= offset) + 1
    best: tuple[ast.AST, str] | None = None

    def walk(node: ast.AST, qual: str) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                if first <= line <= (child.end_lineno or child.lineno):
                    best = (child, qual + child.name)
                    walk(child, qual + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, qual + child.name + ".")
    walk(tree, "")
    if best is None:
        return None
    node, name = best
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    start = starts[first - 1]
    end = _offset(starts, text, node.end_lineno or node.lineno, node.end_col_offset or 0)
    return Function(name, node, text[start:end], start, end)  # type: ignore[arg-type]


def is_stub(fn: Function) -> bool:
    """Body is a docstring and/or `pass` / `...` only, with some description to go on."""
    body = fn.node.body
    doc = ast.get_docstring(fn.node)
    rest = body[1:] if doc is not None else body
    empty = all(isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and s.value.value is Ellipsis) for s in rest)
    return empty and (doc is not None or _comment_above(fn))


def _comment_above(fn: Function) -> bool:
    return "#" in fn.source.split("\n", 1)[-1]


def body_span(text: str, fn: Function) -> tuple[int, int, str]:
    """(start, end, indent) of what generated code replaces: everything after the docstring."""
    starts = _line_offsets(text)
    body = fn.node.body
    doc = ast.get_docstring(fn.node) is not None
    first_stmt = body[0]
    indent = text[starts[first_stmt.lineno - 1]:].split("\n", 1)[0]
    indent = indent[: len(indent) - len(indent.lstrip())]
    if doc:
        start = _offset(starts, text, body[0].end_lineno or body[0].lineno, body[0].end_col_offset or 0)
        rest = body[1:]
    else:
        start = starts[first_stmt.lineno - 1] - 1  # the end of the def line
        rest = body
    end = _offset(starts, text, rest[-1].end_lineno, rest[-1].end_col_offset) if rest else start  # type: ignore[arg-type]
    return start, max(start, end), indent


def import_root(path: str) -> tuple[Path, str]:
    """(the folder to put on sys.path, the dotted module name), climbing through packages."""
    p = Path(path).resolve()
    parts = [p.stem]
    folder = p.parent
    while (folder / "__init__.py").exists() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return folder, ".".join(parts)


def relpath(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()
