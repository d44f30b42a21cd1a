"""`wingman eval --tasks testgen`: verified generated tests (model/tasks/verified.py) against today's
unverified path (the model's tests as written), on the same held-out functions, in the same run.

Every function attempted counts. For each path and function, measured here, not by the generator:
- all pass: the file's tests all pass on the real function (a fallback to unverified tests, or no
  file, is a failure for the verified path);
- mutation kill rate: the evaluation's own mutants (training/evaluate/functions.py's operators,
  seed `ctx.seed + 1`; only those that fail one of the function's mined cases, so none is
  equivalent), each run against the file; pooled over all functions, a failed file killing none;
- line coverage of the function's statements while its tests run (0 for a failed file);
- seconds per function: the model's reply plus everything after it, for the verified path.
"""

from __future__ import annotations

import json
import statistics
import time

from model import sandbox
from model.tasks import oracles, prompts, testgen, verified
from training.evaluate import functions, metrics
from training.evaluate.codegen import generate, run_generated_tests
from training.evaluate.context import EvalContext, digest

PROPOSAL_TOKENS = 384  # as the server asks (server/features/generate_tests.py)
BASELINE_TOKENS = 768  # today's unverified path, as the `tests` task asks

_COVERAGE = r'''
import json, os, sys, threading
import pytest
spec = json.load(open("wingman_cov.json"))
target = os.path.realpath(spec["file"])
lo, hi = spec["lines"]
hits = set()
def local(frame, event, arg):
    if event == "line" and lo <= frame.f_lineno <= hi:
        hits.add(frame.f_lineno)
    return local
def tracer(frame, event, arg):
    if os.path.realpath(frame.f_code.co_filename) == target:
        return local
    return None
sys.settrace(tracer)
threading.settrace(tracer)
rc = pytest.main(["-q", "-p", "no:cacheprovider", "--no-header", "test_generated.py"])
sys.settrace(None)
print("COVERAGE " + json.dumps({"rc": int(rc), "lines": sorted(hits)}))
'''


def coverage(f: functions.HeldoutFunction, test_source: str) -> tuple[bool, float]:
    """(all the file's tests pass on the real function, the share of its statements they run)."""
    stmts = oracles.statement_lines(f.source, f.name)
    import ast

    fn = next(n for n in ast.parse(f.source).body if isinstance(n, ast.FunctionDef) and n.name == f.name)
    spec = {"file": f"{f.module}.py", "lines": [fn.lineno, fn.end_lineno]}
    files = {f"{f.module}.py": f.source, "test_generated.py": test_source, "wingman_cov.py": _COVERAGE,
             "wingman_cov.json": json.dumps(spec)}
    r = sandbox.run([sandbox.python_executable(), "wingman_cov.py"], files, env={"PYTHONPATH": "{root}"},
                    limits=sandbox.Limits(timeout_s=60, memory_mb=1024, cpu_s=60))
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("COVERAGE ")), None)
    if line is None:
        return False, 0.0
    data = json.loads(line[9:])
    covered = len(set(data["lines"]) & stmts)
    return data["rc"] == 0, covered / len(stmts) if stmts else 1.0


def eval_mutants(f: functions.HeldoutFunction, seed: int) -> list[tuple[str, str]]:
    """The evaluation's mutants of `f` that fail at least one mined case (not equivalent)."""
    muts = functions.mutants(f.source, f.name, seed)
    results = functions.check_cases([m for _, m in muts], f.name, f.cases) if muts else []
    return [m for m, res in zip(muts, results) if res is not None and not all(res)]


def score_file(f: functions.HeldoutFunction, test_source: str | None, muts: list[tuple[str, str]]) -> dict:
    if not test_source:
        return {"all_pass": False, "coverage": 0.0, "killed": 0, "mutants": len(muts), "tests": 0}
    real = run_generated_tests(f.module, f.source, test_source)
    results = real["results"]
    all_pass = real["runs"] and bool(results) and all(v == "passed" for v in results.values())
    passed_cov, cov = coverage(f, test_source) if all_pass else (False, 0.0)
    all_pass = all_pass and passed_cov
    killed = 0
    if all_pass:
        for _, msrc in muts:
            m = run_generated_tests(f.module, msrc, test_source)
            killed += not (m["runs"] and m["results"] and all(v == "passed" for v in m["results"].values()))
    return {"all_pass": all_pass, "coverage": cov if all_pass else 0.0, "killed": killed, "mutants": len(muts),
            "tests": len(results), "output": real["output"][-300:] if not all_pass else ""}


def run_testgen(engine, ctx: EvalContext) -> dict:
    fns = ctx.functions()
    fns = fns if ctx.limit is None else fns[: ctx.limit]
    samples = []
    for i, f in enumerate(fns):
        muts = eval_mutants(f, ctx.seed + 1)
        import_line = f"from {f.module} import {f.name}"
        # The verified path, timed end to end as the user waits for it.
        t0 = time.perf_counter()
        reply = generate(engine, prompts.tests(f.source, f.name, f.module), PROPOSAL_TOKENS, "python")
        t_model = time.perf_counter() - t0
        code = prompts.extract_code(reply, "python")
        try:
            res = verified.generate(f.source, f.module, f.name, [import_line], proposals=[code])
        except Exception as exc:  # noqa: BLE001 - a crash is a failure of this function, not of the run
            res = verified.Result(False, reason=f"crashed: {exc!r}")
        seconds = time.perf_counter() - t0
        v = score_file(f, res.text if res.verified else None, muts)
        # Today's path: the model's tests as written, unverified.
        t1 = time.perf_counter()
        base_reply = generate(engine, prompts.tests(f.source, f.name, f.module), BASELINE_TOKENS, "python")
        base_code = testgen.standalone(testgen.parse_reply(prompts.extract_code(base_reply, "python"), f.module),
                                       f.module, f.name)
        base_seconds = time.perf_counter() - t1
        parsed = testgen.parse_reply(prompts.extract_code(base_reply, "python"), f.module)
        b = score_file(f, base_code if parsed.functions else None, muts)
        samples.append({
            "id": f.id, "function": f.name, "verified": res.verified, "reason": res.reason,
            "evidence": res.evidence() if res.verified else "", "seconds": seconds, "model_seconds": t_model,
            "stages": res.seconds, "generator_mutants": res.mutants, "generator_killed": res.killed,
            "file": res.text, "v": v, "baseline": b, "baseline_seconds": base_seconds, "baseline_file": base_code,
        })
        ctx.log(f"  testgen {i + 1}/{len(fns)} {f.name}: verified={res.verified} pass={v['all_pass']} "
                f"killed={v['killed']}/{v['mutants']} cov={v['coverage']:.2f} {seconds:.1f}s "
                f"| baseline pass={b['all_pass']} killed={b['killed']}")
    return {"metrics": summarize(samples), "samples": samples, "samples_digest": digest([f.id for f in fns])}


def _rates(scores: list[dict]) -> dict:
    total = sum(s["mutants"] for s in scores)
    return {
        "all_pass_rate": metrics.mean([float(s["all_pass"]) for s in scores]),
        "kill_rate": sum(s["killed"] for s in scores) / total if total else None,
        "coverage": metrics.mean([s["coverage"] for s in scores]),
    }


def summarize(samples: list[dict]) -> dict:
    v = _rates([s["v"] for s in samples])
    b = _rates([s["baseline"] for s in samples])
    secs = [s["seconds"] for s in samples]
    return {
        "n": len(samples),
        "verified_rate": metrics.mean([float(s["verified"]) for s in samples]),
        "all_pass_rate": v["all_pass_rate"], "kill_rate": v["kill_rate"], "coverage": v["coverage"],
        "median_seconds": statistics.median(secs) if secs else None,
        "mutants": sum(s["v"]["mutants"] for s in samples),
        "baseline_all_pass_rate": b["all_pass_rate"], "baseline_kill_rate": b["kill_rate"],
        "baseline_coverage": b["coverage"],
        "baseline_median_seconds": statistics.median([s["baseline_seconds"] for s in samples]) if samples else None,
    }
