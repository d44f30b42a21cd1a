"""Differential execution: the Python source and a candidate translation run on the same inputs,
each in the sandbox, their results compared through the JSON bridge (model/tasks/bridge_runtime.py
and .js) under the pinned rules of model/tasks/equivalence.py.

The source runs once per translation (its rows and the branch arcs they took); each candidate runs
once per function it must define. Targets that run here: JavaScript (node) and TypeScript (tsc's
output, in node). The compiled targets are checked by their toolchains only (toolchains.py).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model import sandbox
from model.tasks import bridge_runtime, branches, equivalence, toolchains

RUNNABLE = ("javascript", "typescript")
RUN_LIMITS = sandbox.Limits(timeout_s=10, memory_mb=1024, cpu_s=10)
_HERE = Path(__file__).parent


@dataclass
class SourceRun:
    qualname: str
    inputs: list  # wire-encoded positional args per input (what the targets get)
    shown: list[str]  # each input as a call, for messages
    rows: list[dict | None]  # the source's result per input (None: it hung)
    table: list[branches.Branch] = field(default_factory=list)
    error: str = ""  # why nothing ran (the module failed to import, ...)

    def arcs(self, indices: Sequence[int]) -> list:
        return [tuple(a) for i in indices if self.rows[i] for a in self.rows[i].get("arcs", [])]


# ---------------------------------------------------------------- the inputs


def module_slice(text: str) -> str:
    """The parts of a module a function can need, without its script code: imports, defs,
    classes and plain assignments at the top level (a `main()` call at the bottom is not run)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
    lines = text.splitlines()
    parts = []
    for st in tree.body:
        if isinstance(st, keep):
            start = min([st.lineno] + [d.lineno for d in getattr(st, "decorator_list", [])])
            parts.append("\n".join(lines[start - 1: st.end_lineno]))
    return "\n".join(parts) + "\n"


def positional(call, fn: ast.FunctionDef | ast.AsyncFunctionDef):
    """The call's arguments in order, for a target without keyword arguments: a keyword fills
    its parameter's place, a gap before it takes the literal default. None when that cannot be
    done (a keyword-only or **kwargs parameter, a non-literal default)."""
    a = fn.args
    if a.kwonlyargs or a.kwarg:
        return None if call.kwargs else list(call.args)
    names = [p.arg for p in a.posonlyargs + a.args]
    if not call.kwargs:
        return list(call.args)
    if a.vararg:
        return None
    defaults = dict(zip(names[len(names) - len(a.defaults):], a.defaults))
    out = list(call.args)
    last = max(names.index(k) for k in call.kwargs if k in names) if call.kwargs else -1
    for i in range(len(out), last + 1):
        n = names[i]
        if n in call.kwargs:
            out.append(call.kwargs[n])
        elif n in defaults:
            try:
                out.append(ast.literal_eval(defaults[n]))
            except (ValueError, TypeError, SyntaxError):
                return None
        else:
            return None
    return out


def _portable(value) -> bool:
    """Whether a value means the same on the other side: dicts with string keys only (a
    JavaScript object's keys are strings), no bytes and no objects."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_portable(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) for k in value) and all(_portable(v) for v in value.values())
    return False


def build_inputs(source: str, qualname: str, calls, portable: bool = True) -> tuple[list, list, list[str]]:
    """(source-side calls, target-side positional args, shown), distinct and (unless `portable`
    is False: Python against Python) portable."""
    tree = ast.parse(source)
    fn = branches.find_function(tree, qualname)
    if fn is None:
        raise ValueError(f"no function {qualname} in the source")
    name = qualname.split(".")[-1]
    py, tgt, shown, seen = [], [], [], set()
    for c in calls:
        pos = positional(c, fn) if portable else list(c.args) + [c.kwargs]
        if pos is None or (portable and (not _portable(pos) or not _portable(dict(c.kwargs)))):
            continue
        wire = [bridge_runtime.encode(v) for v in pos]
        key = json.dumps(wire, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        py.append({"args": [bridge_runtime.encode(v) for v in c.args],
                   "kwargs": {k: bridge_runtime.encode(v) for k, v in c.kwargs.items()}})
        tgt.append(wire)
        shown.append(c.render(name))
    return py, tgt, shown


MAX_REPEATS = 20


def repeated_constants(source: str, qualname: str, calls) -> list:
    """More calls where a string argument holds each short string constant of the body twice
    ("x_y_z" for "_"). Languages differ on first-versus-all occurrences (JavaScript's
    `s.replace("_", "-")` changes the first, Python's every one; `indexOf` against `count`), and
    inputs holding a constant once cannot tell them apart."""
    fn = branches.find_function(ast.parse(source), qualname)
    if fn is None:
        return []
    doc = ast.get_docstring(fn)
    consts = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) <= 4 \
                and node.value != doc and node.value not in consts:
            consts.append(node.value)
    out, seen = [], {c.key() for c in calls}
    for call in calls:
        for i, arg in enumerate(call.args):
            if not isinstance(arg, str):
                continue
            for c in consts[:5]:
                args = list(call.args)
                args[i] = f"ab{c}cd{c}ef"
                new = type(call)(tuple(args), dict(call.kwargs), call.origin)
                if new.key() not in seen and len(out) < MAX_REPEATS:
                    seen.add(new.key())
                    out.append(new)
        if len(out) >= MAX_REPEATS:
            break
    return out


# ---------------------------------------------------------------- running both sides


def _rows(text: str, n: int) -> list[dict | None]:
    rows: list[dict | None] = [None] * n
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("i"), int) and 0 <= row["i"] < n:
            rows[row["i"]] = row
    return rows


def run_source(source: str, qualname: str, calls, portable: bool = True) -> SourceRun:
    """The source function on `calls` (model/tasks/inputs.py's), in the sandbox."""
    py, tgt, shown = build_inputs(source, qualname, calls, portable)
    run = SourceRun(qualname, tgt, shown, [None] * len(py), branches.branches(source, qualname))
    if not py:
        return run
    files = {"bridge_runtime.py": Path(bridge_runtime.__file__).read_text(), "source.py": source,
             "inputs.json": json.dumps(py)}
    r = sandbox.run([sandbox.python_executable(), "-I", "bridge_runtime.py", "source.py", qualname, "inputs.json",
                     "results.jsonl"], files, limits=RUN_LIMITS, read_back=["results.jsonl"])
    run.rows = _rows(r.files.get("results.jsonl", ""), len(py))
    if not any(run.rows):
        run.error = ("the source ran out of time" if r.timed_out else
                     (r.stderr.strip().splitlines() or ["the source did not run"])[-1][:300])
    return run


def js_names(name: str) -> list[str]:
    """The names a translation may give `name`: as is, and camelCase."""
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name.strip("_")) if "_" in name.strip("_") else name
    return [name] + ([camel] if camel != name else [])


def strip_module_syntax(code: str) -> str:
    """A CommonJS script runs the candidate: ES `export`/`import` lines a model may add go."""
    code = re.sub(r"^export\s+default\s+(?=(async\s+)?function|class)", "", code, flags=re.M)
    code = re.sub(r"^export\s+(?=(async\s+)?function|const|let|var|class)", "", code, flags=re.M)
    return re.sub(r"^export\s+(default\s+\w+;?|\{[^}]*\};?)\s*$", "", code, flags=re.M)


def to_javascript(language: str, code: str) -> tuple[str | None, str]:
    """The candidate as a node script (TypeScript through the pinned tsc), or (None, why)."""
    if language == "javascript":
        return strip_module_syntax(code), ""
    why = toolchains.missing("typescript")
    if why:
        return None, why
    r = sandbox.run([shutil.which("node"), "tsc/lib/tsc.js", "--pretty", "false", *toolchains.TS_COMPILER_OPTIONS,
                     "--outDir", "out", "candidate.ts"], {"candidate.ts": code},
                    limits=toolchains.CHECK_LIMITS, copy_trees={"tsc": toolchains.typescript_tree()},
                    read_back=["out/candidate.js"])
    js = r.files.get("out/candidate.js")
    if js is None:
        return None, "tsc emitted nothing"
    return js, ""


def run_candidate(script: str, name: str, inputs: list) -> tuple[list[dict | None], str]:
    """A candidate (a node script) on the target-side inputs; (rows, why none came back)."""
    node = shutil.which("node")
    if node is None:
        return [None] * len(inputs), "node not found on PATH"
    bridge = (_HERE / "bridge_runtime.js").read_text().replace("__WINGMAN_NAMES__", json.dumps(js_names(name)))
    files = {"main.js": script + "\n" + bridge, "inputs.json": json.dumps([{"args": a} for a in inputs])}
    r = sandbox.run([node, "--max-old-space-size=256", "--stack-size=2000", "main.js", "inputs.json", "results.jsonl"],
                    files, limits=RUN_LIMITS, read_back=["results.jsonl"])
    text = r.files.get("results.jsonl", "")
    if '"missing"' in text.split("\n", 1)[0]:
        return [None] * len(inputs), f"the translation defines no function {' or '.join(js_names(name))}"
    rows = _rows(text, len(inputs))
    why = ""
    if not any(rows):
        why = "it ran out of time" if r.timed_out else \
            "it fails to load: " + ((r.stderr.strip().splitlines() or ["no output"])[-1][:200])
    elif r.timed_out:
        why = "it ran out of time on an input"
    return rows, why


# ---------------------------------------------------------------- comparing


@dataclass
class FunctionVerdict:
    name: str
    inputs: int = 0  # distinct inputs whose source result can be compared
    agreed: int = 0
    coverage: branches.Coverage | None = None
    first_difference: str = ""  # "mean([]): expected 0, got NaN"
    note: str = ""  # why nothing was compared

    @property
    def all_agree(self) -> bool:
        return self.inputs > 0 and self.agreed == self.inputs


def compare(source: SourceRun, rows: list[dict | None], why: str = "") -> FunctionVerdict:
    v = FunctionVerdict(source.qualname)
    comparable = []
    for i, (mine, theirs) in enumerate(zip(source.rows, rows)):
        if mine is None:
            continue  # the source itself hung on it: no expectation to compare with
        out = equivalence.compare_rows(mine, theirs)
        if not out.comparable:
            continue
        comparable.append(i)
        v.inputs += 1
        if out.agree:
            v.agreed += 1
        elif not v.first_difference:
            reason = out.reason if theirs is not None or not why else why
            v.first_difference = f"{source.shown[i]}: {reason}"
    v.coverage = branches.coverage(source.table, source.arcs(comparable))
    if not comparable:
        v.note = source.error or "no inputs could be compared"
    return v
