"""Held-out functions with literal test cases, mined from the repositories' own tests.

For the generated-tests and translation tasks we need functions that (a) stand alone with the
standard library, so a model can see all of them and node/pytest can run them in a scratch
directory, and (b) have test cases with plain literal inputs and outputs, as MultiPL-E needs.
From each held-out repository's test files we mine `assert f(<literals>) == <literal>` (and
`assertEqual`, `is True/False/None`, `pytest.mark.parametrize` tables and `for` loops over literal
tables), resolve `f` to a top-level function of the repository, cut the smallest slice of its module
that defines it (stdlib imports, helper functions, constants), and keep the cases the real function
passes. A seeded mutant of each function that fails at least one case (so is not equivalent) is the
target for the mutation kill rate.
"""

from __future__ import annotations

import ast
import builtins
import copy
import itertools
import re
import sys
from dataclasses import asdict, dataclass, field

from model import sandbox
from training.evaluate.heldout import Repo
from training.evaluate.holes import _rng

MAX_FUNCTION_LINES = 40
MAX_SLICE_LINES = 80
MAX_CASES = 40
MUTANTS_TRIED = 8
BUILTINS = set(dir(builtins))


class NotLiteral(ValueError):
    pass


@dataclass
class HeldoutFunction:
    id: str  # repo:path:name
    repo: str
    path: str
    module: str  # the slice's module name, e.g. "strutils"
    name: str
    source: str  # the slice: imports, helpers and the function, verbatim
    cases: list = field(default_factory=list)  # [(args list, expected)], the real function passes all
    mutant: str | None = None  # the slice with one seeded mutation that fails >= 1 case
    mutation: str | None = None  # what was changed

    def to_json(self) -> dict:
        d = asdict(self)
        d["cases"] = [[repr(a), repr(e)] for a, e in self.cases]
        return d


# ---------------------------------------------------------------- literal evaluation


def literal(node: ast.AST, bind: dict, env: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in bind:
            return bind[node.id]
        if node.id in env:
            return env[node.id]
        raise NotLiteral(node.id)
    if isinstance(node, ast.Tuple):
        return tuple(literal(e, bind, env) for e in node.elts)
    if isinstance(node, ast.List):
        return [literal(e, bind, env) for e in node.elts]
    if isinstance(node, ast.Set):
        return {literal(e, bind, env) for e in node.elts}
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {literal(k, bind, env): literal(v, bind, env) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = literal(node.operand, bind, env)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return -v if isinstance(node.op, ast.USub) else v
    raise NotLiteral(type(node).__name__)


def _module_env(tree: ast.Module) -> dict:
    env: dict = {}
    for st in tree.body:
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name):
            try:
                env[st.targets[0].id] = literal(st.value, {}, env)
            except (NotLiteral, TypeError):
                pass
    return env


def _called_name(call: ast.AST) -> str | None:
    if not isinstance(call, ast.Call):
        return None
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute) and isinstance(f.value, (ast.Name, ast.Attribute)):
        if isinstance(f.value, ast.Name) and f.value.id in ("self", "cls"):
            return None
        return f.attr
    return None


def _pairs(st: ast.stmt) -> list[tuple[ast.Call, ast.AST]]:
    """(call, expected) from an assert statement of a supported shape."""
    if isinstance(st, ast.Assert) and isinstance(st.test, ast.Compare) and len(st.test.ops) == 1:
        op, left, right = st.test.ops[0], st.test.left, st.test.comparators[0]
        if isinstance(op, ast.Eq):
            if _called_name(left):
                return [(left, right)]
            if _called_name(right):
                return [(right, left)]
        if isinstance(op, ast.Is) and isinstance(right, ast.Constant) and _called_name(left):
            return [(left, right)]
    if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Attribute):
        call = st.value
        if call.func.attr in ("assertEqual", "assertEquals") and len(call.args) == 2:
            a, b = call.args
            if _called_name(a):
                return [(a, b)]
            if _called_name(b):
                return [(b, a)]
    return []


def _parametrize(fn: ast.FunctionDef, env: dict) -> list[dict]:
    tables = []
    for dec in fn.decorator_list:
        if not (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Attribute) and dec.func.attr == "parametrize"):
            continue
        if len(dec.args) < 2:
            return []
        try:
            names = literal(dec.args[0], {}, env)
            rows = literal(dec.args[1], {}, env)
        except (NotLiteral, TypeError):
            return []
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        binds = []
        for row in rows:
            values = [row] if len(names) == 1 else list(row)
            if len(values) != len(names):
                return []
            binds.append(dict(zip(names, values)))
        tables.append(binds)
    if not tables:
        return [{}]
    return [dict(itertools.chain.from_iterable(d.items() for d in combo)) for combo in itertools.product(*tables)]


def _visit(stmts: list[ast.stmt], binds: list[dict], env: dict, found: list) -> None:
    for st in stmts:
        if isinstance(st, ast.For) and not st.orelse:
            try:
                items = literal(st.iter, {}, env)
            except (NotLiteral, TypeError):
                continue
            inner = []
            for b in binds:
                for item in items if isinstance(items, (list, tuple)) else []:
                    nb = dict(b)
                    if isinstance(st.target, ast.Name):
                        nb[st.target.id] = item
                    elif isinstance(st.target, ast.Tuple) and all(isinstance(e, ast.Name) for e in st.target.elts):
                        if not isinstance(item, (list, tuple)) or len(item) != len(st.target.elts):
                            continue
                        nb.update({e.id: v for e, v in zip(st.target.elts, item)})
                    else:
                        continue
                    inner.append(nb)
            _visit(st.body, inner, env, found)
            continue
        for call, expected in _pairs(st):
            for b in binds:
                try:
                    args = []
                    for a in call.args:
                        if isinstance(a, ast.Starred):
                            args.extend(literal(a.value, b, env))
                        else:
                            args.append(literal(a, b, env))
                    if call.keywords:
                        raise NotLiteral("keywords")
                    found.append((_called_name(call), args, literal(expected, b, env)))
                except (NotLiteral, TypeError):
                    continue


def mine_test_file(text: str) -> list[tuple[str, list, object]]:
    """(function name, args, expected) for every literal case in one test file."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    env = _module_env(tree)
    found: list = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _visit(node.body, _parametrize(node, env), env, found)
    _visit(tree.body, [{}], env, found)
    return found


# ---------------------------------------------------------------- slicing


def _bound_names(fn: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not fn:
            out.add(node.name)
        elif isinstance(node, ast.alias):
            out.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.ExceptHandler) and node.name:
            out.add(node.name)
    return out


def free_names(st: ast.stmt) -> set[str]:
    loads = {n.id for n in ast.walk(st) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
        loads -= _bound_names(st)
    return loads - BUILTINS


def _defined(st: ast.stmt) -> list[str]:
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [st.name]
    if isinstance(st, ast.Assign):
        return [n.id for t in st.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.value is not None:
        return [st.target.id]
    if isinstance(st, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in st.names]
    return []


def _stdlib_import(st: ast.stmt) -> bool:
    if isinstance(st, ast.Import):
        return all(a.name.split(".")[0] in sys.stdlib_module_names for a in st.names)
    if isinstance(st, ast.ImportFrom):
        return st.level == 0 and st.module is not None and (
            st.module.split(".")[0] in sys.stdlib_module_names or st.module == "__future__")
    return True


def slice_function(text: str, name: str) -> str | None:
    """The module's statements needed to define top-level function `name`, in source order, or
    None when it needs a class, a non-stdlib import or a name defined conditionally."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    defs: dict[str, int] = {}
    for i, st in enumerate(tree.body):
        for n in _defined(st):
            defs[n] = i
    target = defs.get(name)
    if target is None or not isinstance(tree.body[target], ast.FunctionDef):
        return None
    fn = tree.body[target]
    if fn.end_lineno - fn.lineno + 1 > MAX_FUNCTION_LINES or any(
            isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for n in ast.walk(fn)):
        return None
    needed: set[int] = set()
    stack = [target]
    while stack:
        i = stack.pop()
        if i in needed:
            continue
        st = tree.body[i]
        if isinstance(st, ast.ClassDef) or not _stdlib_import(st):
            return None
        needed.add(i)
        for free in free_names(st) if not isinstance(st, (ast.Import, ast.ImportFrom)) else ():
            if free not in defs:
                return None
            stack.append(defs[free])
    lines = text.split("\n")
    chunks = []
    for i in sorted(needed):
        st = tree.body[i]
        first = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", [])])
        chunks.append("\n".join(lines[first - 1: st.end_lineno]))
    out = "\n\n".join(chunks) + "\n"
    return out if out.count("\n") <= MAX_SLICE_LINES else None


# ---------------------------------------------------------------- mutation

_SWAP = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.GtE, ast.GtE: ast.Lt, ast.Gt: ast.LtE, ast.LtE: ast.Gt,
         ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
         ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv,
         ast.And: ast.Or, ast.Or: ast.And}


def _mutation_sites(fn: ast.FunctionDef) -> list[tuple[int, str]]:
    sites = []
    for i, node in enumerate(ast.walk(fn)):
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _SWAP:
            sites.append((i, "compare"))
        elif isinstance(node, (ast.BinOp, ast.BoolOp)) and type(node.op) in _SWAP:
            if not (isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant)
                    and isinstance(node.left.value, str)):  # not "%"-formatting
                sites.append((i, "operator"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            sites.append((i, "constant"))
        elif isinstance(node, ast.If):
            sites.append((i, "negate_if"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            sites.append((i, "drop_not"))
    return sites


def _fallback_sites(fn: ast.FunctionDef) -> list[tuple[int, str]]:
    """`return X` -> `return None`: tried after the finer mutations."""
    return [(i, "return_none") for i, node in enumerate(ast.walk(fn))
            if isinstance(node, ast.Return) and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)]


def _apply(fn: ast.FunctionDef, index: int, kind: str) -> tuple[ast.FunctionDef, str]:
    fn = copy.deepcopy(fn)
    parents = {}
    nodes = list(ast.walk(fn))
    for p in nodes:
        for c in ast.iter_child_nodes(p):
            parents[c] = p
    node = nodes[index]
    before = ast.unparse(node).split("\n")[0][:60]
    if kind == "compare":
        node.ops[0] = _SWAP[type(node.ops[0])]()
    elif kind == "operator":
        node.op = _SWAP[type(node.op)]()
    elif kind == "constant":
        node.value = node.value + 1
    elif kind == "negate_if":
        node.test = ast.UnaryOp(op=ast.Not(), operand=node.test)
    elif kind == "return_none":
        node.value = ast.Constant(None)
    elif kind == "drop_not":
        parent = parents[node]
        for fname, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, fname, node.operand)
            elif isinstance(value, list):
                setattr(parent, fname, [node.operand if v is node else v for v in value])
    after = ast.unparse(node.operand if kind == "drop_not" else node).split("\n")[0][:60]
    ast.fix_missing_locations(fn)
    return fn, f"{kind}: {before} -> {after}" if kind != "negate_if" else f"negate_if: {before}"


def mutants(slice_src: str, name: str, seed: int) -> list[tuple[str, str]]:
    """(description, mutated slice source), in a seeded order."""
    tree = ast.parse(slice_src)
    fn = next(st for st in tree.body if isinstance(st, ast.FunctionDef) and st.name == name)
    sites = _mutation_sites(fn)
    _rng(seed, name, "mutants").shuffle(sites)
    sites = sites[:MUTANTS_TRIED - 1] + _fallback_sites(fn)[:1]
    lines = slice_src.split("\n")
    first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    out = []
    for index, kind in sites[:MUTANTS_TRIED]:
        mutated, what = _apply(fn, index, kind)
        src = "\n".join(lines[: first - 1] + [ast.unparse(mutated)] + lines[fn.end_lineno:])
        out.append((what, src))
    return out


# ---------------------------------------------------------------- running cases

_HARNESS = r'''
import ast, json, signal
spec = ast.literal_eval(open("spec.txt", encoding="utf-8").read())
def _alarm(*_):
    raise TimeoutError
signal.signal(signal.SIGALRM, _alarm)
out = []
for src in spec["sources"]:
    ns = {"__name__": "sliced"}
    try:
        exec(compile(src, "sliced.py", "exec"), ns)
        f = ns[spec["name"]]
    except BaseException:
        out.append(None)
        continue
    res = []
    for args, expected in ast.literal_eval(spec["cases"]):
        signal.alarm(2)
        try:
            ok = bool(f(*args) == expected)
        except BaseException:
            ok = False
        finally:
            signal.alarm(0)
        res.append(ok)
    out.append(res)
print("RESULT " + json.dumps(out))
'''


def check_cases(sources: list[str], name: str, cases: list) -> list[list[bool] | None]:
    """For each source (a module defining `name`), which cases it passes (None: it did not load)."""
    spec = {"sources": sources, "name": name, "cases": repr([(list(a), e) for a, e in cases])}
    r = sandbox.run([sandbox.python_executable(), "harness.py"], {"harness.py": _HARNESS, "spec.txt": repr(spec)},
                    limits=sandbox.Limits(timeout_s=60, memory_mb=1024, cpu_s=60))
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            import json

            return json.loads(line[7:])
    return [None] * len(sources)


def _roundtrips(value) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def find_functions(repos: list[Repo], seed: int = 1234, limit: int | None = None) -> list[HeldoutFunction]:
    """Held-out functions with verified literal cases (and a killed mutant where one was found),
    interleaved across repositories in a seeded order."""
    per_repo = []
    for repo in repos:
        tops: dict[str, list[str]] = {}
        texts = {}
        for rel in repo.source_files:
            texts[rel] = repo.read(rel)
            try:
                tree = ast.parse(texts[rel])
            except SyntaxError:
                continue
            for st in tree.body:
                if isinstance(st, ast.FunctionDef) and not st.name.startswith("test"):
                    tops.setdefault(st.name, []).append(rel)
        cases: dict[tuple[str, str], list] = {}
        for test in repo.test_files:
            ttext = repo.read(test)
            for fname, args, expected in mine_test_file(ttext):
                homes = tops.get(fname, [])
                if len(homes) > 1:
                    homes = [h for h in homes if re.search(rf"\b{re.escape(repo.module_name(h).rsplit('.', 1)[-1])}\b",
                                                           ttext)]
                if len(homes) != 1 or not _roundtrips(args) or not _roundtrips(expected):
                    continue
                key = (homes[0], fname)
                if (args, expected) not in cases.setdefault(key, []):
                    cases[key].append((args, expected))
        found = []
        for (rel, fname), cs in sorted(cases.items()):
            src = slice_function(texts[rel], fname)
            if src is None:
                continue
            cs = cs[:MAX_CASES]
            muts = mutants(src, fname, seed)
            results = check_cases([src] + [m for _, m in muts], fname, cs)
            real = results[0]
            if not real or not any(real):
                continue
            keep = [i for i, ok in enumerate(real) if ok]
            fn = HeldoutFunction(f"{repo.key}:{rel}:{fname}", repo.key, rel,
                                 re.sub(r"\W", "_", repo.module_name(rel).rsplit(".", 1)[-1]) or "target",
                                 fname, src, [cs[i] for i in keep])
            for (what, msrc), res in zip(muts, results[1:]):
                if res is not None and not all(res[i] for i in keep):
                    fn.mutant, fn.mutation = msrc, what
                    break
            found.append(fn)
        _rng(seed, repo.key, "functions").shuffle(found)
        per_repo.append(found)
    out = []
    for i in range(max((len(f) for f in per_repo), default=0)):
        out.extend(f[i] for f in per_repo if i < len(f))
    return out if limit is None else out[:limit]
