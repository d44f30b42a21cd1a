"""Branch coverage of a Python function over a set of inputs, from the line arcs the bridge's
tracer records (model/tasks/bridge_runtime.py).

A branch is one outcome of an `if`/`elif`, `while` or `for` in the function's own body (nested
functions and classes are other code objects, not traced): taken ("true", or "entered" for a loop)
when the arc from its line to the first line of its body ran, not taken when any other arc left
that line. Not measured: conditional expressions and `and`/`or` inside one line, and a statement
whose body sits on its own line (`if x: return 1`), where arcs cannot tell the outcomes apart.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Branch:
    line: int
    taken_to: int  # the first line of the body
    kind: str  # "if", "while", "for"


def find_function(tree: ast.Module, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    scope: list[ast.stmt] = tree.body
    node = None
    for part in qualname.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        scope = node.body
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def branches(source: str, qualname: str) -> list[Branch]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    fn = find_function(tree, qualname)
    if fn is None:
        return []
    out: list[Branch] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(child, (ast.If, ast.While, ast.For, ast.AsyncFor)) and child.body:
                first = child.body[0].lineno
                if first != child.lineno:
                    kind = "if" if isinstance(child, ast.If) else "while" if isinstance(child, ast.While) else "for"
                    out.append(Branch(child.lineno, first, kind))
            visit(child)

    visit(fn)
    return sorted(set(out), key=lambda b: b.line)


@dataclass
class Coverage:
    covered: int
    total: int
    missing: list[str]  # "line 12 (if) not taken", for messages

    @property
    def complete(self) -> bool:
        return self.covered == self.total

    @property
    def ratio(self) -> float:
        return 1.0 if self.total == 0 else self.covered / self.total

    def describe(self) -> str:
        if self.total == 0:
            return "no branches"
        if self.complete:
            return "all branches" if self.total > 1 else "both branches"
        return f"{self.covered} of {self.total} branch outcomes"


def coverage(table: list[Branch], arcs: Iterable[tuple[int, int]]) -> Coverage:
    """Outcomes reached: each branch has two (taken, not taken)."""
    seen = {tuple(a) for a in arcs}
    covered, missing = 0, []
    for b in table:
        taken = (b.line, b.taken_to) in seen
        other = any(src == b.line and dst != b.taken_to for src, dst in seen)
        covered += taken + other
        if not taken:
            missing.append(f"line {b.line} ({b.kind}) {'never entered' if b.kind != 'if' else 'never true'}")
        if not other:
            missing.append(f"line {b.line} ({b.kind}) {'always entered' if b.kind != 'if' else 'never false'}")
    return Coverage(covered, 2 * len(table), missing)
