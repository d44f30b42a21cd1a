"""A verified translation: what a selection holds, each candidate's checks, the choice, and the
words that say what was checked.

One candidate at a time (the first greedy, the rest sampled): the target's toolchain
(toolchains.py), then differential execution against the Python source on generated inputs
(differential.py). Sampling stops at the first verified candidate, at `candidates`, or when the
time budget is spent; then the verified one is shown, else the best unverified one, marked so,
with the first input on which it differs. The server and `wingman eval` both run `Translation`,
so what is measured is what the user gets.

Verified means all of these:
- the toolchain accepted it (a missing toolchain is a skip, and a skip never verifies);
- every function of the selection ran against the source, and it agreed on every input whose
  source result can be compared, under the pinned rules of equivalence.py;
- those were at least `min_inputs` distinct inputs, and (with `all_branches`) they reach every
  branch outcome of the source that branches.py measures.
`min_inputs` defaults to 5: one or two inputs are met by chance by a wrong translation (an empty
list, a zero, where many wrong bodies return the same thing), and a function whose generator finds
fewer than five distinct portable inputs has too little evidence for the word "verified". Branch
coverage is the other half: five inputs on one path say nothing about the others.
"""

from __future__ import annotations

import ast
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from model.tasks import differential, prompts, toolchains

COMMENT = {"python": "#", "javascript": "//", "typescript": "//", "java": "//", "cpp": "//", "go": "//", "rust": "//"}


@dataclass
class VerifyOptions:
    candidates: int = 4  # samples at most (the first greedy)
    budget_s: float = 90.0  # no new sample starts after this; the running one finishes
    min_inputs: int = 5  # distinct agreeing inputs needed for "verified" (see above)
    all_branches: bool = True  # and they must reach every measured branch outcome
    temperature: float = 0.7  # of the samples after the first
    input_budget_s: float = 2.0  # for the input generator, per function


@dataclass
class Plan:
    """What the selection holds and how its candidates can be checked."""
    source_language: str
    target: str
    functions: list[differential.SourceRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what cannot be run, and why

    @property
    def runnable(self) -> bool:
        return bool(self.functions) and self.target in differential.RUNNABLE and not self.notes


@dataclass
class Candidate:
    index: int
    code: str
    seconds: float = 0.0  # generating it
    tool: toolchains.ToolCheck | None = None
    functions: list[differential.FunctionVerdict] = field(default_factory=list)
    verified: bool = False
    summary: str = ""  # what was checked, in words (the header and the message)
    check_seconds: float = 0.0

    @property
    def score(self) -> tuple:
        """For choosing among unverified candidates: the toolchain first, then agreement."""
        inputs = sum(f.inputs for f in self.functions)
        agreed = sum(f.agreed for f in self.functions)
        return (bool(self.tool and self.tool.ok), agreed / inputs if inputs else 0.0, agreed, -self.index)


def _top_level(code: str):
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return None
    return tree


def plan(selection: str, source_language: str, target: str, module_text: str | None = None,
         options: VerifyOptions | None = None, calls_for=None, only: list[str] | None = None) -> Plan:
    """Run the source's functions on generated inputs, once for all candidates. `module_text`
    (the whole file) supplies what the selection uses (imports, helpers); `only` names the
    functions to run (the others are helpers); `calls_for(source, qualname)` replaces the input
    generator (tests)."""
    options = options or VerifyOptions()
    p = Plan(source_language, target)
    if prompts.canonical(source_language) != "python":
        p.notes.append(f"the source is {prompts.display(source_language)}: only Python sources are run")
        return p
    if target not in differential.RUNNABLE:
        p.notes.append(f"{prompts.display(target)} is checked by its toolchain only "
                       f"(differential execution runs JavaScript and TypeScript)")
        return p
    tree = _top_level(selection)
    if tree is None:
        p.notes.append("the selection does not parse as Python")
        return p
    source = selection = textwrap.dedent(selection)
    if module_text and module_text.strip() != selection.strip():
        sliced = differential.module_slice(module_text)
        if _top_level(sliced) is not None:
            source = sliced
    if calls_for is None:
        from model.tasks.inputs import generate_inputs

        def calls_for(src: str, qualname: str):
            return generate_inputs(src, qualname, budget_s=options.input_budget_s)
    for st in tree.body:
        if only is not None and getattr(st, "name", None) not in only:
            continue
        if isinstance(st, ast.ClassDef):
            p.notes.append(f"class {st.name}: its methods need an instance, so no inputs can be built")
        elif isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if isinstance(st, ast.AsyncFunctionDef):
                p.notes.append(f"{st.name} is async: not run")
                continue
            try:
                calls = list(calls_for(source, st.name))
                calls += differential.repeated_constants(source, st.name, calls)
                run = differential.run_source(source, st.name, calls)
            except ValueError as exc:
                p.notes.append(f"{st.name}: {exc}")
                continue
            if not run.inputs:
                p.notes.append(f"{st.name}: no inputs could be built")
            elif run.error:
                p.notes.append(f"{st.name}: the source fails: {run.error}")
            else:
                p.functions.append(run)
    if not p.functions and not p.notes:
        p.notes.append("the selection holds no function")
    return p


def check(candidate: Candidate, p: Plan, options: VerifyOptions) -> Candidate:
    t0 = time.perf_counter()
    candidate.tool = toolchains.check(p.target, candidate.code)
    if candidate.tool.ok and p.target in differential.RUNNABLE and p.functions:
        script, why = differential.to_javascript(p.target, candidate.code)
        for run in p.functions:
            if script is None:
                rows = [None] * len(run.inputs)
            else:
                rows, why = differential.run_candidate(script, run.qualname, run.inputs)
            candidate.functions.append(differential.compare(run, rows, why))
    candidate.verified = _verified(candidate, p, options)
    candidate.summary = describe(candidate, p, options)
    candidate.check_seconds = time.perf_counter() - t0
    return candidate


def _verified(c: Candidate, p: Plan, options: VerifyOptions) -> bool:
    if not (c.tool and c.tool.ok) or not p.runnable or len(c.functions) != len(p.functions):
        return False
    return all(f.all_agree and f.inputs >= options.min_inputs
               and (not options.all_branches or (f.coverage is not None and f.coverage.complete))
               for f in c.functions)


def describe(c: Candidate, p: Plan, options: VerifyOptions) -> str:
    """What was checked, in words. Starts with "verified" only when it is."""
    src = prompts.display(p.source_language)
    if c.verified:
        parts = [f"{f.name + ' on ' if len(c.functions) > 1 else ''}{f.inputs} inputs, {f.coverage.describe()}"
                 for f in c.functions]
        joined = ("on " if len(parts) == 1 else "") + "; ".join(parts)
        return f"verified against the {src} source {joined} ({c.tool.tool} ok)"
    if c.tool is None:
        return "unverified: not checked"
    if c.tool.ok is None:
        return f"unverified: {c.tool.describe()}"
    if not c.tool.ok:
        return f"unverified: {c.tool.describe()}"
    if not p.runnable:
        return f"unverified: {c.tool.tool} ok; not run: " + "; ".join(p.notes or ["nothing to run"])
    why = []
    for f in c.functions:
        label = f"{f.name}: " if len(c.functions) > 1 else ""
        if f.first_difference:
            why.append(f"{label}differs on {f.first_difference} ({f.agreed} of {f.inputs} inputs agree)")
        elif f.inputs < options.min_inputs:
            why.append(f"{label}agrees on {f.inputs} inputs, fewer than the {options.min_inputs} required")
        elif options.all_branches and f.coverage is not None and not f.coverage.complete:
            why.append(f"{label}agrees on {f.inputs} inputs, but they reach {f.coverage.describe()} "
                       f"({'; '.join(f.coverage.missing[:2])})")
        elif f.note:
            why.append(f"{label}{f.note}")
    return "unverified: " + ("; ".join(why) or "no input was compared")


def choose(candidates: list[Candidate]) -> Candidate | None:
    """The first verified candidate, else the best unverified one."""
    verified = [c for c in candidates if c.verified]
    if verified:
        return verified[0]
    return max(candidates, key=lambda c: c.score) if candidates else None


def header(c: Candidate, p: Plan, tried: int) -> str:
    """A one-line comment for the top of the translation."""
    mark = COMMENT.get(p.target, "//")
    return f"{mark} Wingman: {c.summary} [candidate {c.index + 1} of {tried}]\n"


@dataclass
class Result:
    plan: Plan
    candidates: list[Candidate]
    chosen: Candidate | None
    seconds: float
    stopped: str  # "verified", "count", "budget", "cancelled", "empty"


def keep_sampling(done: list[Candidate], options: VerifyOptions, elapsed: float) -> bool:
    if done and done[-1].verified:
        return False
    return len(done) < options.candidates and (not done or elapsed < options.budget_s)


def run(sample: Callable[[int], str], p: Plan, options: VerifyOptions,
        progress: Callable[[str], None] = lambda m: None, cancelled: Callable[[], bool] = lambda: False) -> Result:
    """The loop, synchronously (`wingman eval`; the server runs the same steps around its worker)."""
    t0 = time.perf_counter()
    done: list[Candidate] = []
    stopped = "count"
    while keep_sampling(done, options, time.perf_counter() - t0):
        if cancelled():
            stopped = "cancelled"
            break
        g0 = time.perf_counter()
        code = sample(len(done))
        if cancelled():
            stopped = "cancelled"
            break
        c = Candidate(len(done), code, time.perf_counter() - g0)
        if code.strip():
            check(c, p, options)
        else:
            c.summary = "unverified: the model returned no code"
        done.append(c)
        progress(f"candidate {len(done)}/{options.candidates}: {c.summary}")
    if done and done[-1].verified:
        stopped = "verified"
    elif stopped != "cancelled" and len(done) < options.candidates:
        stopped = "budget"
    return Result(p, done, choose(done), time.perf_counter() - t0, stopped)
