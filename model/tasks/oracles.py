"""Expected values from execution: run the real function on each input, in the sandbox, twice
(a call whose two results differ is dropped as nondeterministic), then run every mutant
(model/tasks/mutants.py) on the same inputs to learn which input kills which mutant, and trace
which of the function's lines each input runs.

Everything that touches the function or the inputs' text runs inside the sandbox, in one
process (model/sandbox.py); this side only reads its JSON report.
"""

from __future__ import annotations

import ast
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model import sandbox
from model.tasks.inputs import Call, literal
from model.tasks.mutants import Mutant

CALL_TIMEOUT_S = 1.0  # one call of the real function
MUTANT_CALL_TIMEOUT_S = 0.3  # one call of a mutant (an off-by-one loop may never end)
RUN_TIMEOUT_S = 30.0
SLOW_CALL_S = 0.2  # a call slower than this on the real function makes a slow test: not used
MUTANTS_BUDGET_S = 6.0

# Exceptions that say the function needs something the sandbox does not give it.
ENVIRONMENT_ERRORS = {"OSError", "FileNotFoundError", "PermissionError", "ConnectionError", "ConnectionRefusedError",
                      "TimeoutError", "gaierror", "IsADirectoryError", "NotADirectoryError", "BlockingIOError",
                      "URLError", "HTTPError", "OperationalError", "EOFError"}


@dataclass
class Outcome:
    kind: str  # "return" | "raise" | "timeout"
    type: str  # the result's type name, or the exception's
    module: str = "builtins"  # where that type lives
    value: str | None = None  # a literal of the result (None: it has none)
    iterated: str | None = None  # a literal of list(result), for an iterator
    repr: str | None = None  # repr(result), when it is stable (no address in it)
    floats: bool = False  # the result holds floats (compare with pytest.approx)
    after: dict[int, str] = field(default_factory=dict)  # argument index -> literal, when the call changed it
    state: dict[str, str] = field(default_factory=dict)  # instance attribute -> literal, when the call changed it


@dataclass
class Observation:
    call: Call
    outcome: Outcome
    deterministic: bool
    lines: frozenset[int]  # lines of the source file that ran
    kills: frozenset[int]  # indices into Report.mutants
    doc_agrees: bool | None = None  # for a docstring example with a claimed result


@dataclass
class Report:
    runnable: bool
    reason: str = ""  # why not
    observations: list[Observation] = field(default_factory=list)
    mutants: list[Mutant] = field(default_factory=list)  # those that compiled
    setup: str | None = None  # the expression that built the instance (methods)
    enforced: dict[str, bool] = field(default_factory=dict)  # the sandbox's guarantees, and whether each held
    seconds: float = 0.0


HARNESS = r'''
import copy, importlib, io, json, math, os, signal, sys, time, types
spec = json.load(open("wingman_spec.json", encoding="utf-8"))
real_stdout = sys.stdout
SAFE = {"float": float, "frozenset": frozenset, "set": set, "__builtins__": {}}

def lit(v, depth=0):
    if depth > 20: return None
    if v is None or isinstance(v, (bool, int, str, bytes)): return repr(v)
    if isinstance(v, float):
        if math.isnan(v): return 'float("nan")'
        if math.isinf(v): return 'float("inf")' if v > 0 else '-float("inf")'
        return repr(v)
    if type(v) in (list, tuple, set, frozenset):
        items = [lit(x, depth + 1) for x in v]
        if any(i is None for i in items): return None
        if type(v) in (set, frozenset): items.sort()
        if type(v) is list: return "[" + ", ".join(items) + "]"
        if type(v) is tuple: return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        body = "{" + ", ".join(items) + "}" if items else "set()"
        return body if type(v) is set else "frozenset(" + (body if items else "") + ")"
    if type(v) is dict:
        pairs = [(lit(k, depth + 1), lit(x, depth + 1)) for k, x in v.items()]
        if any(a is None or b is None for a, b in pairs): return None
        return "{" + ", ".join(a + ": " + b for a, b in pairs) + "}"
    return None

def has_float(v, depth=0):
    if depth > 20: return False
    if isinstance(v, float): return True
    if isinstance(v, (list, tuple, set, frozenset)): return any(has_float(x, depth + 1) for x in v)
    if isinstance(v, dict): return any(has_float(x, depth + 1) for x in v.values())
    return False

def close(a, b, depth=0):
    """Equal, with floats compared as pytest.approx would (rel 1e-6)."""
    if depth > 20: return a == b
    if isinstance(a, float) or isinstance(b, float):
        try:
            if math.isnan(a) and math.isnan(b): return True
            return a == b or abs(a - b) <= 1e-6 * max(abs(a), abs(b), 1e-12)
        except TypeError:
            return False
    if type(a) is not type(b): return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, depth + 1) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], depth + 1) for k in a)
    try:
        return bool(a == b)
    except Exception:
        return False

class Timeout(BaseException):
    pass

def alarm(*_):
    raise Timeout()
signal.signal(signal.SIGALRM, alarm)

target_file = None
line_lo, line_hi = spec["lines"]
hits = set()
def local(frame, event, arg):
    if event == "line" and line_lo <= frame.f_lineno <= line_hi:
        hits.add(frame.f_lineno)
    return local
def tracer(frame, event, arg):
    if frame.f_code.co_filename == target_file:
        return local
    return None

def state_of(obj):
    try:
        d = vars(obj)
    except TypeError:
        return None
    return {k: lit(v) for k, v in d.items() if not k.startswith("__")}

def outcome(fn, args, kwargs, inst, timeout, trace=False):
    """(the outcome as a dict, the raw value or None)."""
    args = copy.deepcopy(args); kwargs = copy.deepcopy(kwargs)
    before = [lit(a) for a in args]
    st0 = state_of(inst) if inst is not None else None
    sys.stdout = io.StringIO()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    if trace: sys.settrace(tracer)
    raw = None
    try:
        try:
            v = fn(*args, **kwargs)
            it = None
            if isinstance(v, (types.GeneratorType, map, filter, zip, enumerate, reversed)) or (
                    hasattr(v, "__next__") and hasattr(v, "__iter__") and not isinstance(v, (str, bytes))):
                v = list(v); it = True
            raw = v
            r = repr(v)
            out = {"kind": "return", "type": type(v).__name__, "module": type(v).__module__,
                   "value": None if it else lit(v), "iterated": lit(v) if it else None,
                   "repr": r[:500] if " at 0x" not in r and len(r) <= 500 else None, "floats": has_float(v)}
        finally:
            sys.settrace(None)
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Timeout:
        out = {"kind": "timeout", "type": "Timeout", "module": ""}
    except RecursionError:
        out = {"kind": "raise", "type": "RecursionError", "module": "builtins"}
    except BaseException as exc:
        out = {"kind": "raise", "type": type(exc).__name__, "module": type(exc).__module__}
    finally:
        sys.stdout = real_stdout
    after = {}
    for i, (a, b) in enumerate(zip(args, before)):
        now = lit(a)
        if now != b and now is not None: after[i] = now
    out["after"] = after
    state = {}
    if inst is not None:
        st1 = state_of(inst) or {}
        state = {k: v for k, v in st1.items() if v is not None and (st0 or {}).get(k) != v}
    out["state"] = state
    return out, raw

def same(a, ra, b, rb, exact=False):
    if a["kind"] != b["kind"] or a["type"] != b["type"] or a["after"] != b["after"] or a["state"] != b["state"]:
        return False
    if a["kind"] != "return": return True
    if exact:
        return (a["value"], a["iterated"], a["repr"]) == (b["value"], b["iterated"], b["repr"])
    if a["value"] is not None or a["iterated"] is not None:
        return close(ra, rb)
    return a["repr"] == b["repr"]

result = {"calls": []}
try:
    module = importlib.import_module(spec["module"])
except BaseException as exc:
    sys.stdout = real_stdout
    print("RESULT " + json.dumps({"import_error": f"{type(exc).__name__}: {exc}"[:300]}))
    sys.exit(0)
target_file = getattr(module, "__file__", None)
parts = spec["qualname"].split(".")
owner = module
for p in parts[:-1]:
    owner = getattr(owner, p)
is_method = len(parts) > 1 and isinstance(owner, type)
raw_attr = owner.__dict__.get(parts[-1]) if is_method else None
bound_style = "instance"
if is_method and isinstance(raw_attr, (staticmethod, classmethod)):
    bound_style = "class"

def make_target():
    if not is_method or bound_style == "class":
        return getattr(owner, parts[-1]), None
    return None, None

setup = None
if is_method and bound_style == "instance":
    errors = []
    for expr in spec["setups"]:
        try:
            sys.stdout = io.StringIO()
            signal.setitimer(signal.ITIMER_REAL, 1.0)
            eval(expr, vars(module))
            setup = expr
            break
        except BaseException as exc:
            errors.append(f"{expr}: {type(exc).__name__}: {exc}"[:200])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdout = real_stdout
    if setup is None:
        print("RESULT " + json.dumps({"setup_error": "; ".join(errors) or "no way to build one"}))
        sys.exit(0)
result["setup"] = setup

def bound():
    if setup is not None:
        inst = eval(setup, vars(module))
        return getattr(inst, parts[-1]), inst
    return getattr(owner, parts[-1]), None

calls = []
for c in spec["calls"]:
    calls.append((eval(c["args"], dict(SAFE)), eval(c["kwargs"], dict(SAFE)), c.get("expected")))

originals = []
for args, kwargs, expected in calls:
    hits = set()
    fn, inst = bound()
    t0 = time.perf_counter()
    o1, r1 = outcome(fn, args, kwargs, inst, spec["call_timeout"], trace=True)
    o1["seconds"] = time.perf_counter() - t0
    lines = sorted(hits)
    fn, inst = bound()
    o2, r2 = outcome(fn, args, kwargs, inst, spec["call_timeout"])
    agrees = None
    if expected is not None:
        if expected.startswith("raise "):
            agrees = o1["kind"] == "raise" and o1["type"] == expected[6:].strip()
        elif o1["kind"] == "return":
            try:
                claim = eval(expected, dict(SAFE))
                agrees = close(r1, claim) if not isinstance(claim, bool) and not isinstance(r1, bool) else r1 is claim
            except Exception:
                agrees = (o1["repr"] or "") == expected
        else:
            agrees = False
    originals.append((o1, r1))
    result["calls"].append({"outcome": o1, "deterministic": same(o1, r1, o2, r2, exact=True), "lines": lines,
                            "kills": [], "doc_agrees": agrees})

mutant_ok = []
ns_base = vars(module)
# A call that was slow on the real function is not run on mutants (nor kept as a test), and the
# mutants get a time budget: those it does not reach are left out, not counted as survivors.
fast = [ci for ci, (o, _) in enumerate(originals) if o.get("seconds", 0) <= spec["slow_call_s"]]
mutants_until = time.perf_counter() + spec["mutants_budget_s"]
for mi, src in enumerate(spec["mutants"]):
    if time.perf_counter() > mutants_until:
        mutant_ok.append(False)
        continue
    try:
        code = compile(src, target_file or "mutant.py", "exec")
    except SyntaxError:
        mutant_ok.append(False)
        continue
    mutant_ok.append(True)
    if is_method:
        ns = dict(ns_base)
        try:
            exec(code, ns)
        except BaseException:
            mutant_ok[-1] = False
            continue
        saved = owner.__dict__[parts[-1]]
        new = ns[parts[-1]]
        setattr(owner, parts[-1], new)
        restore = lambda: setattr(owner, parts[-1], saved)
        get = bound
    else:
        ns = dict(ns_base)
        try:
            exec(code, ns)
        except BaseException:
            mutant_ok[-1] = False
            continue
        restore = lambda: None
        mfn = ns[parts[-1]]
        get = lambda: (mfn, None)
    try:
        for ci in fast:
            args, kwargs, _ = calls[ci]
            o, r = originals[ci]
            try:
                fn, inst = get()
                om, rm = outcome(fn, args, kwargs, inst, spec["mutant_timeout"])
            except BaseException:
                om, rm = {"kind": "raise", "type": "SetupError", "module": "", "after": {}, "state": {}}, None
            if not same(o, r, om, rm):
                result["calls"][ci]["kills"].append(mi)
                if om["kind"] == "timeout":
                    break  # killed; more calls of a looping mutant would only cost time
    finally:
        restore()
result["mutant_ok"] = mutant_ok
print("RESULT " + json.dumps(result))
'''


def _setups(source: str, qualname: str, project_tests: Sequence[str]) -> list[str]:
    """Expressions that may build an instance for a method: the constructor calls the project's
    tests make (literal arguments), then ones built from __init__'s signature."""
    from model.tasks.inputs import boundary_calls, calls_in_code, find_function, parameters

    cls_name = qualname.split(".")[-2]
    out = []
    for text in project_tests:
        for c in calls_in_code(text, cls_name, origin="model"):
            out.append(c.render(cls_name))
    tree = ast.parse(source)
    cls = next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
    init = find_function(tree, f"{qualname.rsplit('.', 1)[0]}.__init__") if cls is not None else None
    if init is None:
        out.append(f"{cls_name}()")
    else:
        fn = init[0]
        params = parameters(fn, method=True)
        for c in boundary_calls(fn, params, seed=0)[:8]:
            out.append(c.render(cls_name))
    return list(dict.fromkeys(out))


def run(module_source: str, module: str, qualname: str, calls: Sequence[Call], mutants: Sequence[Mutant], *,
        project_files: dict[str, str] | None = None, project_tests: Sequence[str] = (),
        python: str | None = None, timeout_s: float = RUN_TIMEOUT_S) -> Report:
    """Observe `qualname` of `module` (whose text is `module_source`) on `calls`, and each mutant.
    `project_files` (relative path -> text) are the project's other modules, so its imports work."""
    t0 = time.perf_counter()
    tree = ast.parse(module_source)
    from model.tasks.inputs import find_function

    found = find_function(tree, qualname)
    if found is None:
        return Report(False, f"no function {qualname} in {module}")
    fn = found[0]
    first = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    keep = [c for c in calls if literal(c.args) is not None and literal(c.kwargs) is not None]
    spec = {
        "module": module, "qualname": qualname, "lines": [first, fn.end_lineno],
        "calls": [{"args": literal(c.args), "kwargs": literal(c.kwargs), "expected": c.expected} for c in keep],
        "mutants": [m.source for m in mutants], "call_timeout": CALL_TIMEOUT_S, "mutant_timeout": MUTANT_CALL_TIMEOUT_S,
        "slow_call_s": SLOW_CALL_S, "mutants_budget_s": MUTANTS_BUDGET_S,
        "setups": _setups(module_source, qualname, project_tests) if "." in qualname else [],
    }
    files = dict(project_files or {})
    parts = module.split(".")
    files[str(Path(*parts[:-1], parts[-1] + ".py"))] = module_source
    for i in range(1, len(parts)):
        files.setdefault(str(Path(*parts[:i], "__init__.py")), "")
    files["wingman_harness.py"] = HARNESS
    files["wingman_spec.json"] = json.dumps(spec)
    limits = sandbox.Limits(timeout_s=timeout_s, memory_mb=1024, cpu_s=int(timeout_s) + 2)
    r = sandbox.run([python or sandbox.python_executable(), "wingman_harness.py"], files, limits=limits,
                    env={"PYTHONPATH": "{root}"})
    enforced = dict(r.enforced)
    seconds = time.perf_counter() - t0
    line = next((ln for ln in reversed(r.stdout.splitlines()) if ln.startswith("RESULT ")), None)
    if line is None:
        why = "timed out" if r.timed_out else ((r.stderr.strip().splitlines() or ["no output"])[-1][:300])
        return Report(False, f"running it in the sandbox failed ({why})", enforced=enforced, seconds=seconds)
    data = json.loads(line[7:])
    if "import_error" in data:
        return Report(False, f"importing {module} failed in the sandbox ({data['import_error']})",
                      enforced=enforced, seconds=seconds)
    if "setup_error" in data:
        return Report(False, f"could not build a {qualname.split('.')[-2]} to call it on ({data['setup_error']})",
                      enforced=enforced, seconds=seconds)
    ok = data["mutant_ok"]
    index = {old: new for new, old in enumerate(i for i, good in enumerate(ok) if good)}
    observations = []
    for c, d in zip(keep, data["calls"]):
        o = d["outcome"]
        outcome = Outcome(o["kind"], o["type"], o.get("module", ""), o.get("value"), o.get("iterated"), o.get("repr"),
                          bool(o.get("floats")), {int(k): v for k, v in o.get("after", {}).items()}, o.get("state", {}))
        quick = o.get("seconds", 0.0) <= SLOW_CALL_S
        observations.append(Observation(c, outcome, d["deterministic"] and quick, frozenset(d["lines"]),
                                        frozenset(index[k] for k in d["kills"] if k in index), d["doc_agrees"]))
    report = Report(True, observations=observations, mutants=[m for m, good in zip(mutants, ok) if good],
                    setup=data.get("setup"), enforced=enforced, seconds=seconds)
    usable = [o for o in observations if o.deterministic and o.outcome.kind != "timeout"]
    if observations and not usable:
        report.runnable = False
        report.reason = "its results differ between two runs (randomness, time or global state)" \
            if any(not o.deterministic for o in observations) else "every call timed out"
    elif usable and all(o.outcome.kind == "raise" and o.outcome.type in ENVIRONMENT_ERRORS for o in usable):
        report.runnable = False
        report.reason = f"every call raised {usable[0].outcome.type}: it needs files, the network or a device"
    elif not observations:
        report.runnable = False
        report.reason = "no inputs could be made for it"
    return report


def statement_lines(module_source: str, qualname: str) -> set[int]:
    """The lines of the function's statements (a multi-line statement counts once, at its first
    line), not its def line or docstring: what a line-coverage figure counts."""
    from model.tasks.inputs import find_function

    found = find_function(ast.parse(module_source), qualname)
    if found is None:
        return set()
    fn = found[0]
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    out = set()
    for st in body:
        for node in ast.walk(st):
            if isinstance(node, ast.stmt):
                out.add(node.lineno)
    return out
