"""Mining Python sources with `ast`: functions with their docstrings and signatures, the test
functions that call them, and the literal input/output cases those tests assert."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field


@dataclass
class Function:
    name: str
    source: str  # the whole definition, dedented
    signature: str  # `def name(args) -> ret:` line(s)
    docstring: str | None
    body: str  # the source after the signature (and docstring)
    toplevel: bool
    path: str = ""
    stub: str = ""  # the signature and docstring as in the file (indented): what code-from-comment shows
    stub_end_line: int = 0  # the file's line (1-based) where the stub ends


@dataclass
class TestFunction:
    name: str
    source: str
    calls: set[str]
    cases: list[tuple[str, list, object]] = field(default_factory=list)  # (callee, args, expected)


def is_test_path(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return bool(re.match(r"test_.*\.py$|.*_test\.py$", name)) or "/tests/" in f"/{path}" or "/test/" in f"/{path}"


def _segment(lines: list[str], node: ast.AST) -> str:
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    chunk = lines[start - 1:node.end_lineno]
    indent = min((len(line) - len(line.lstrip()) for line in chunk if line.strip()), default=0)
    return "\n".join(line[indent:] for line in chunk) + "\n"


def functions(text: str, path: str = "") -> list[Function]:
    """Every `def` with a body of more than a `pass`/`...`; methods are marked toplevel=False."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    lines = text.splitlines()
    out = []
    toplevel = set(id(n) for n in tree.body)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.body:
            continue
        source = _segment(lines, node)
        first = node.body[0]
        doc = ast.get_docstring(node)
        body_nodes = node.body[1:] if doc is not None else node.body
        if not body_nodes or all(isinstance(b, ast.Pass) or (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))
                                 for b in body_nodes):
            continue
        # The signature: from the def line to the line before the first body statement.
        sig_end = first.lineno - 1
        sig_lines = lines[node.lineno - 1:sig_end] or [lines[node.lineno - 1]]
        indent = len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())
        signature = "\n".join(line[indent:] for line in sig_lines)
        if ":" not in signature:  # a one-line def: `def f(x): return x`
            continue
        body_start = body_nodes[0].lineno
        body = "\n".join(line[indent:] for line in lines[body_start - 1:node.end_lineno]) + "\n"
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        stub_end = first.end_lineno if doc is not None else sig_end
        stub = "\n".join(lines[start - 1:stub_end])
        out.append(Function(node.name, source, signature, doc, body, id(node) in toplevel, path, stub, stub_end))
    return out


def _value(node: ast.AST, env: dict):
    """A plain literal, or a test parameter bound in env; ValueError for anything else."""
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    return ast.literal_eval(node)


def _params(node: ast.AST) -> list[dict]:
    """Bindings from `@pytest.mark.parametrize("a, b", [...])` decorators (their product); [{}] if none."""
    envs: list[dict] = [{}]
    for dec in getattr(node, "decorator_list", []):
        if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "parametrize"
                and len(dec.args) >= 2):
            continue
        try:
            names = ast.literal_eval(dec.args[0])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return []  # parameters we cannot read: no literal cases from this test
        if not isinstance(dec.args[1], (ast.List, ast.Tuple)):
            return []
        values = []
        for elt in dec.args[1].elts:  # each row on its own: one non-literal row does not spoil the rest
            if isinstance(elt, ast.Call) and isinstance(elt.func, ast.Attribute) and elt.func.attr == "param" \
                    and not any(k.arg == "marks" for k in elt.keywords):
                elt = ast.Tuple(elts=list(elt.args), ctx=ast.Load())  # pytest.param(a, b, id=...)
            try:
                values.append(ast.literal_eval(elt))
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        rows = [dict(zip(names, v if len(names) > 1 else (v,))) for v in values
                if len(names) == 1 or (isinstance(v, (tuple, list)) and len(v) == len(names))]
        envs = [{**e, **r} for e in envs for r in rows]
    return envs


def _call_case(call: ast.AST, other: ast.AST, env: dict):
    if not isinstance(call, ast.Call) or call.keywords:
        return None
    f = call.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    if name is None or name.startswith("assert"):
        return None
    try:
        args = []
        for a in call.args:
            if isinstance(a, ast.Starred):
                args.extend(list(_value(a.value, env)))
            else:
                args.append(_value(a, env))
        return name, args, _value(other, env)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _assert_cases(stmt: ast.AST, env: dict):
    """`assert f(<literals>) == <literal>` (either side, f may be `module.f`), or
    `self.assertEqual(f(...), <literal>)` → (f, args, expected)."""
    if isinstance(stmt, ast.Assert) and isinstance(stmt.test, ast.Compare) and len(stmt.test.ops) == 1 \
            and isinstance(stmt.test.ops[0], (ast.Eq, ast.Is)):
        left, right = stmt.test.left, stmt.test.comparators[0]
        return _call_case(left, right, env) if isinstance(left, ast.Call) else _call_case(right, left, env)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and isinstance(stmt.value.func, ast.Attribute) \
            and stmt.value.func.attr in ("assertEqual", "assertEquals") and len(stmt.value.args) == 2:
        a, b = stmt.value.args
        return _call_case(a, b, env) if isinstance(a, ast.Call) else _call_case(b, a, env)
    return None


def test_functions(text: str) -> list[TestFunction]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
            continue
        calls = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                f = sub.func
                if isinstance(f, ast.Name):
                    calls.add(f.id)
                elif isinstance(f, ast.Attribute):
                    calls.add(f.attr)
        t = TestFunction(node.name, _segment(lines, node), calls)
        for env in _params(node)[:200]:
            for stmt in node.body:
                case = _assert_cases(stmt, env)
                if case:
                    t.cases.append(case)
        out.append(t)
    return out
