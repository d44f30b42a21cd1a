"""The test generator's own mutants of a function: small, plausible bugs whose detection tells
which inputs make good tests (model/tasks/verified.py keeps the asserts that kill the most).

Operators: comparison boundary flips (< with <=, > with >=, == with !=), off-by-one integer
constants (c - 1 and c + 1), `and`/`or` swaps, arithmetic swaps (+ with -, * with +, / and //
with *, % with //), and dropped statements (a statement replaced by `pass`). The evaluation uses
a different set and seed (training/evaluate/functions.py), so the selection here cannot choose
the score it is measured by.
"""

from __future__ import annotations

import ast
import copy
import random
import textwrap
from dataclasses import dataclass

MAX_MUTANTS = 24

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
            ast.NotEq: ast.Eq}
_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.Div: ast.Mult, ast.FloorDiv: ast.Mult,
          ast.Mod: ast.FloorDiv}
_BOOL = {ast.And: ast.Or, ast.Or: ast.And}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Add: "+",
           ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.And: "and",
           ast.Or: "or"}


@dataclass(frozen=True)
class Mutant:
    description: str  # "line 4: < -> <="
    source: str  # the whole def, mutated (dedented)


def function_source(source: str, qualname: str) -> tuple[str, int]:
    """(the def's text, dedented, decorators included; its first line in `source`)."""
    from model.tasks.inputs import find_function

    found = find_function(ast.parse(source), qualname)
    if found is None:
        raise ValueError(f"no function {qualname} in the source")
    fn = found[0]
    first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    lines = source.split("\n")[first - 1: fn.end_lineno]
    return textwrap.dedent("\n".join(lines)), first


def _sites(fn: ast.AST) -> list[tuple[int, str, object]]:
    """(node index in ast.walk order, operator, its argument)."""
    doc = fn.body[0] if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(
        getattr(fn.body[0], "value", None), ast.Constant) else None
    out: list[tuple[int, str, object]] = []
    for i, node in enumerate(ast.walk(fn)):
        if isinstance(node, ast.Compare):
            for j, op in enumerate(node.ops):
                if type(op) in _COMPARE:
                    out.append((i, "compare", j))
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH and not (
                isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
            out.append((i, "arith", None))
        elif isinstance(node, ast.BoolOp):
            out.append((i, "bool", None))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append((i, "const", -1))
            out.append((i, "const", +1))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.For, ast.While, ast.If, ast.With,
                               ast.Try)) and node is not None:
            body = [s for s in node.body if s is not doc]
            if len(body) > 1:
                for k, st in enumerate(node.body):
                    if st is not doc and not isinstance(st, (ast.Pass, ast.FunctionDef, ast.ClassDef)):
                        out.append((i, "drop", k))
    return out


def _apply(fn: ast.AST, index: int, kind: str, arg: object) -> tuple[ast.AST, str]:
    fn = copy.deepcopy(fn)
    node = list(ast.walk(fn))[index]
    line = getattr(node, "lineno", 0)
    if kind == "compare":
        old = node.ops[arg]
        node.ops[arg] = _COMPARE[type(old)]()
        what = f"{_SYMBOL[type(old)]} -> {_SYMBOL[type(node.ops[arg])]}"
    elif kind == "arith":
        old = node.op
        node.op = _ARITH[type(old)]()
        what = f"{_SYMBOL[type(old)]} -> {_SYMBOL[type(node.op)]}"
    elif kind == "bool":
        old = node.op
        node.op = _BOOL[type(old)]()
        what = f"{_SYMBOL[type(old)]} -> {_SYMBOL[type(node.op)]}"
    elif kind == "const":
        what = f"{node.value} -> {node.value + arg}"
        node.value = node.value + arg
    else:  # drop
        st = node.body[arg]
        line = st.lineno
        what = f"dropped `{ast.unparse(st).splitlines()[0][:50]}`"
        node.body[arg] = ast.copy_location(ast.Pass(), st)
    ast.fix_missing_locations(fn)
    return fn, f"line {line}: {what}"


def mutants(def_source: str, seed: int = 0, limit: int = MAX_MUTANTS) -> list[Mutant]:
    """Up to `limit` distinct mutants of the (dedented) def, in a seeded order; line numbers in
    the descriptions are the def's own (1 = the def line)."""
    tree = ast.parse(def_source)
    fn = tree.body[0]
    sites = _sites(fn)
    random.Random(f"{seed}:{getattr(fn, 'name', '')}").shuffle(sites)
    original = ast.unparse(fn)
    out, seen = [], {original}
    for index, kind, arg in sites:
        mutated, what = _apply(fn, index, kind, arg)
        text = ast.unparse(mutated)
        if text in seen:
            continue
        seen.add(text)
        out.append(Mutant(what, text))
        if len(out) >= limit:
            break
    return out
