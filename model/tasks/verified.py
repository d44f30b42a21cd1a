"""Verified tests for a Python function: inputs (model/tasks/inputs.py) whose expected values are
recorded by running the real function in the sandbox (model/tasks/oracles.py), a small set chosen
by the mutants it kills (model/tasks/mutants.py), written as a normal pytest file, then run once
more in the sandbox: only tests that pass there are written as verified.

Where a docstring example disagrees with the function, that is reported as a likely bug and no
tests are written (they would enshrine it). Where the function cannot run (its import fails, it
needs files or the network, its results change between runs), the caller falls back to the
model's own tests, marked unverified (`unverified_file`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model import sandbox
from model.tasks import inputs, mutants, oracles
from model.tasks.inputs import Call

MAX_TESTS = 8
MIN_TESTS = 3
MAX_RAISES = 2
MAX_DOC_EXAMPLES = 2
SEED = 7  # the generator's mutant order: the evaluation uses its own operators and seed
# Exception types a test may expect from an input we made up; a TypeError from a wrong-typed
# boundary value says nothing about the function, unless the docstring or the model asked for it.
EXPECTED_RAISES = {"ValueError", "KeyError", "IndexError", "ZeroDivisionError", "AssertionError", "LookupError",
                   "ArithmeticError", "OverflowError", "StopIteration", "NotImplementedError", "RuntimeError"}


@dataclass
class LikelyBug:
    call: str  # "count_in_range([1, 5, 10], 1, 10)"
    claimed: str  # what the docstring says
    actual: str  # what the function does
    line: int | None = None  # the docstring example's line in the file (1-based), when found

    def message(self) -> str:
        return f"the docstring says {self.call} gives {self.claimed}, but it gives {self.actual}: a likely bug"


@dataclass
class Test:
    name: str
    body: list[str]  # lines, unindented
    kills: frozenset[int]
    lines: frozenset[int]
    raises: bool = False


@dataclass
class Result:
    verified: bool
    tests: list[Test] = field(default_factory=list)
    text: str = ""  # the test file's text (a new file), or the part appended
    reason: str = ""  # why it is not verified (the caller falls back)
    bugs: list[LikelyBug] = field(default_factory=list)
    mutants: int = 0
    killed: int = 0
    lines: int = 0
    covered: int = 0
    dropped: int = 0  # selected tests that failed in the final run
    enforced: dict[str, bool] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def evidence(self) -> str:
        """'5 tests, all passing; 11 of 13 mutants killed; 9 of 10 lines covered'."""
        n = len(self.tests)
        parts = [f"{plural(n, 'test')}, {'all passing' if n != 1 else 'passing'}"]
        if self.mutants:
            parts.append(f"{self.killed} of {plural(self.mutants, 'mutant')} killed")
        if self.lines:
            parts.append(f"{self.covered} of {plural(self.lines, 'line')} covered")
        return "; ".join(parts)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------- naming and rendering


def _slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return s[:limit].rstrip("_")


def _describe(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        s = f"{value:g}" if isinstance(value, float) else str(value)
        return ("minus_" + s[1:] if s.startswith("-") else s).replace(".", "_").replace("+", "")
    if isinstance(value, (str, bytes)):
        if not value:
            return "empty_string" if isinstance(value, str) else "empty_bytes"
        slug = _slug(value if isinstance(value, str) else value.decode("latin-1"), 16)
        return slug if slug and len(value) <= 16 else "text"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        kind = type(value).__name__
        if not value:
            return f"empty_{kind}"
        if len(value) <= 3 and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value):
            return "_".join(_describe(v) for v in (sorted(value, key=repr) if isinstance(value, (set, frozenset))
                                                   else value))[:30]
        return f"{kind}_of_{len(value)}"
    return type(value).__name__.lower()


def _outcome_words(o: oracles.Outcome) -> str:
    if o.kind == "raise":
        return "raises_" + _slug(re.sub(r"(?<!^)(?=[A-Z])", "_", o.type))
    if o.value in ("True", "False", "None"):
        return "is_" + o.value.lower()
    if o.value is not None and len(o.value) <= 12 and re.fullmatch(r"-?[\w.]+|'[\w ]*'", o.value):
        return "is_" + _describe(eval_literal(o.value))
    if o.value is None and o.iterated is None and o.repr is not None and len(o.repr) <= 16:
        return "is_" + (_slug(o.repr) or "shown")
    if o.after:
        return "changes_its_argument"
    if o.state:
        return "sets_" + "_".join(sorted(o.state))[:20]
    return "result"


def eval_literal(text: str):
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def test_name(fn_name: str, call: Call, o: oracles.Outcome) -> str:
    args = [_describe(a) for a in call.args] + [f"{k}_{_describe(v)}" for k, v in call.kwargs.items()]
    what = "_and_".join(a for a in args if a) or "no_arguments"
    name = f"test_{_slug(fn_name, 30)}_{what}"[:70].rstrip("_")
    return f"{name}_{_outcome_words(o)}"[:100].rstrip("_")


def _approx_ok(text: str | None) -> bool:
    """pytest.approx takes a number, or a flat list/tuple/dict of numbers."""
    v = eval_literal(text) if text else None
    if isinstance(v, float):
        return True
    if isinstance(v, (list, tuple)):
        return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
    if isinstance(v, dict):
        return all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v.values())
    return False


def _expected(o: oracles.Outcome) -> tuple[str, str] | None:
    """(how to wrap the call, the right-hand side) for a returned value; None: nothing to assert."""
    if o.iterated is not None:
        return "list({})", _rhs(o.iterated, o.floats)
    if o.value is not None:
        return "{}", _rhs(o.value, o.floats)
    if o.repr is not None:
        # No literal form (an object): its repr, which was the same in both runs.
        return "repr({})", f"== {o.repr!r}"
    return "type({}).__name__", f"== {o.type!r}"


def _rhs(text: str, floats: bool) -> str:
    if text in ("True", "False", "None"):
        return f"is {text}"
    if floats and _approx_ok(text):
        return f"== pytest.approx({text})"
    return f"== {text}"


def _body(call_text: str, call: Call, o: oracles.Outcome, setup: str | None, target: str) -> list[str]:
    lines: list[str] = []
    if setup is not None:
        lines.append(f"obj = {setup}")
    changed = sorted(o.after)
    names = {}
    if changed:
        args = list(call.args)
        for i in changed:
            names[i] = f"arg{i}" if len(changed) > 1 else "arg"
            lines.append(f"{names[i]} = {inputs.literal(args[i])}")
        parts = [names.get(i, inputs.literal(a) or repr(a)) for i, a in enumerate(args)]
        parts += [f"{k}={inputs.literal(v)}" for k, v in call.kwargs.items()]
        call_text = f"{target}({', '.join(parts)})"
    if o.kind == "raise":
        exc = o.type if o.module == "builtins" else "Exception"
        lines.append(f"with pytest.raises({exc}){' as info' if exc == 'Exception' else ''}:")
        lines.append(f"    {call_text}")
        if exc == "Exception":
            lines.append(f"assert type(info.value).__name__ == {o.type!r}")
    elif o.value == 'float("nan")':
        lines.append(f"assert math.isnan({call_text})")
    else:
        wrap, rhs = _expected(o)
        if rhs == "is None" and (o.after or o.state):
            lines.append(call_text)  # a procedure: what it changed is what matters
        else:
            lines.append(f"assert {wrap.format(call_text)} {rhs}")
    for i in changed:
        lines.append(f"assert {names[i]} == {o.after[i]}")
    for attr, value in sorted(o.state.items()):
        lines.append(f"assert obj.{attr} == {value}")
    return lines


def render_file(tests: Sequence[Test], import_lines: Sequence[str], header: str, existing: str | None = None) -> str:
    """A pytest module (or the part appended to `existing`), names made unique against it."""
    body = "\n".join(f"    {b}" if b else "" for t in tests for b in t.body)
    need_pytest = "pytest." in body
    need_math = "math." in body
    have = existing or ""
    out: list[str] = []
    for line in ([("import math" if need_math else "")] + ["import pytest" if need_pytest else ""]
                 + list(import_lines)):
        if line and not re.search(rf"^{re.escape(line.split('  #')[0])}", have, re.M) and line not in out:
            out.append(line)
    taken = set(re.findall(r"^(?:async\s+)?def\s+(\w+)", have, re.M))
    for t in tests:
        name, n = t.name, 2
        while name in taken:
            name, n = f"{t.name}_{n}", n + 1
        taken.add(name)
        t.name = name
        out += ["", "", f"def {name}():"] + [f"    {b}" for b in t.body]
    text = "\n".join(out).strip("\n") + "\n"
    if existing is None:
        return f'"""{header}"""\n\n' + text
    sep = "" if existing.endswith("\n") or not existing else "\n"
    return sep + "\n\n" + text


# ---------------------------------------------------------------- selection


def _usable(obs: oracles.Observation, bug_calls: set[str]) -> bool:
    o = obs.outcome
    if not obs.deterministic or o.kind == "timeout" or obs.call.key() in bug_calls:
        return False
    if o.kind == "raise":
        if o.type in oracles.ENVIRONMENT_ERRORS:
            return False
        if o.type not in EXPECTED_RAISES and o.module == "builtins" and obs.call.origin not in ("docstring", "model"):
            return False
    if o.kind == "return" and o.value is None and o.iterated is None and o.repr is None and not (o.after or o.state):
        return obs.call.origin in ("docstring", "model")  # only its type is known: weak, keep for stated calls
    return True


def select(observations: Sequence[oracles.Observation], statement_lines: set[int], bug_calls: set[str],
           max_tests: int = MAX_TESTS) -> list[oracles.Observation]:
    """Greedy: each pick kills the most mutants not yet killed, then covers the most new lines;
    docstring examples and short calls win ties. At least MIN_TESTS when there are that many."""
    pool = [o for o in observations if _usable(o, bug_calls)]
    chosen: list[oracles.Observation] = []
    killed: set[int] = set()
    covered: set[int] = set()
    raises = 0
    seen: set[tuple] = set()

    def shown(o: oracles.Observation) -> tuple:
        x = o.outcome
        return (x.kind, x.type, x.value, x.iterated, x.repr)

    # The docstring's own examples first: the author's statement of what the function does.
    for o in [o for o in pool if o.call.origin == "docstring"][:MAX_DOC_EXAMPLES]:
        chosen.append(o)
        seen.add(shown(o))
        pool.remove(o)
        killed |= o.kills
        covered |= o.lines & statement_lines
        raises += o.outcome.kind == "raise"
    while pool and len(chosen) < max_tests:
        def score(o: oracles.Observation):
            new_kills = len(o.kills - killed)
            new_lines = len((o.lines & statement_lines) - covered)
            return (new_kills, new_lines, shown(o) not in seen, o.call.origin == "docstring",
                    o.outcome.kind == "return", -len(o.call.render("f")))
        allowed = [o for o in pool if not (o.outcome.kind == "raise" and raises >= MAX_RAISES)]
        if not allowed:
            break
        best = max(allowed, key=score)
        s = score(best)
        if s[0] == 0 and s[1] == 0 and len(chosen) >= MIN_TESTS:
            break
        chosen.append(best)
        seen.add(shown(best))
        pool.remove(best)
        killed |= best.kills
        covered |= best.lines & statement_lines
        raises += best.outcome.kind == "raise"
    return chosen


# ---------------------------------------------------------------- the whole thing


def _doc_line(module_source: str, fn_first_line: int, call_text: str, name: str) -> int | None:
    lines = module_source.split("\n")
    args = call_text[len(name):]
    for i in range(fn_first_line - 1, len(lines)):
        if f"{name}(" in lines[i] and args.replace(" ", "") in lines[i].replace(" ", ""):
            return i + 1
    return None


def _show(o: oracles.Outcome) -> str:
    if o.kind == "raise":
        return f"raises {o.type}"
    return o.value or o.iterated or o.repr or f"a {o.type}"


def generate(module_source: str, module: str, qualname: str, import_lines: Sequence[str], *,
             proposals: Sequence[str] = (), project_files: dict[str, str] | None = None,
             project_tests: Sequence[str] = (), python: str | None = None, existing: str | None = None,
             budget_s: float = 2.0, seed: int = SEED, max_tests: int = MAX_TESTS, cancel=None) -> Result:
    """Verified tests for `qualname` of `module` (text `module_source`). `import_lines` import it
    the way the project's tests do; `existing` is the test file's text when it already exists
    (the result's text is then the part to append)."""
    times: dict[str, float] = {}
    t = time.perf_counter()
    calls = inputs.generate_inputs(module_source, qualname, budget_s=budget_s, proposals=proposals, seed=seed)
    def_source, first = mutants.function_source(module_source, qualname)
    muts = mutants.mutants(def_source, seed=seed)
    times["inputs"] = time.perf_counter() - t
    t = time.perf_counter()
    report = oracles.run(module_source, module, qualname, calls, muts, project_files=project_files,
                         project_tests=project_tests, python=python)
    times["observe"] = time.perf_counter() - t
    result = Result(False, mutants=len(report.mutants), enforced=report.enforced, seconds=times)
    if not report.runnable:
        result.reason = report.reason
        return result
    name = qualname.split(".")[-1]
    for obs in report.observations:
        if obs.call.origin == "docstring" and obs.doc_agrees is False:
            text = obs.call.render(name)
            result.bugs.append(LikelyBug(text, obs.call.expected or "?", _show(obs.outcome),
                                         _doc_line(module_source, first, text, name)))
    if result.bugs:
        result.reason = result.bugs[0].message()
        return result
    stmts = oracles.statement_lines(module_source, qualname)
    chosen = select(report.observations, stmts, set(), max_tests)
    if not chosen:
        result.reason = "none of its results could be written as a test"
        return result
    is_method = "." in qualname and report.setup is not None
    static = "." in qualname and report.setup is None
    target = "obj." + name if is_method else qualname if static else name
    tests = []
    for obs in chosen:
        body = _body(obs.call.render(target), obs.call, obs.outcome, report.setup if is_method else None, target)
        tests.append(Test(test_name(qualname.replace(".", "_"), obs.call, obs.outcome), body, obs.kills,
                          obs.lines & stmts, obs.outcome.kind == "raise"))
    header = (f"Tests for {qualname}, written by Wingman: each expected value was recorded by running "
              f"{qualname}, and the tests passed in a sandbox. Review them: they pin what the code does now.")
    # The final check: the file as written, run by pytest against the real module.
    t = time.perf_counter()
    for _attempt in range(2):
        full = render_file(tests, import_lines, header)
        passed = run_pytest(full, module_source, module, project_files, python)
        if passed is None:
            result.reason = "pytest could not run the tests in the sandbox"
            return result
        failing = [x for x in tests if x.name not in passed]
        if not failing:
            break
        result.dropped += len(failing)
        tests = [x for x in tests if x.name in passed]
    else:
        result.reason = "the tests did not pass twice in a row in the sandbox"
        return result
    times["verify"] = time.perf_counter() - t
    if not tests:
        result.reason = "none of the selected tests passed when run by pytest"
        return result
    result.verified = True
    result.tests = tests
    result.killed = len(frozenset().union(*(x.kills for x in tests)))
    result.lines = len(stmts)
    result.covered = len(frozenset().union(*(x.lines for x in tests)))
    result.text = render_file(tests, import_lines, header, existing) if existing is not None else full
    return result


def run_pytest(test_text: str, module_source: str, module: str, project_files: dict[str, str] | None,
               python: str | None, timeout_s: float = 60.0) -> set[str] | None:
    """Names of the tests in `test_text` that pass against `module_source`, or None when pytest
    did not run. The test file's own sys.path lines point at the real project; here the module
    sits at the sandbox's root, which PYTHONPATH puts first."""
    files = dict(project_files or {})
    parts = module.split(".")
    files[str(Path(*parts[:-1], parts[-1] + ".py"))] = module_source
    for i in range(1, len(parts)):
        files.setdefault(str(Path(*parts[:i], "__init__.py")), "")
    files["wingman_tests/test_generated.py"] = test_text
    argv = [python or sandbox.python_executable(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "--no-header", "-rA", "wingman_tests/test_generated.py"]
    r = sandbox.run(argv, files, env={"PYTHONPATH": "{root}"},
                    limits=sandbox.Limits(timeout_s=timeout_s, memory_mb=1024, cpu_s=int(timeout_s)))
    if r.timed_out or r.returncode not in (0, 1):
        return None
    return set(re.findall(r"^PASSED \S+::(\w+)", r.stdout, re.M))
