"""Line completion and infilling on held-out repositories, through `engine.complete`."""

from __future__ import annotations

import time

from training.evaluate import metrics
from training.evaluate.context import EvalContext, complete, digest

MAX_TOKENS = {"line": 48, "single": 48, "multi": 192}
MODES = {"line": "single", "single": "single", "multi": "multi"}


def _score_holes(engine, ctx: EvalContext, kind: str, run_tests: bool) -> dict:
    holes = ctx.holes(kind)
    repos = {r.key: r for r in ctx.repos}
    multiline = kind == "multi"
    samples = []
    for i, h in enumerate(holes):
        c = complete(engine, h.prefix, h.suffix, h.path, MODES[kind], MAX_TOKENS[kind], ctx.budget)
        pred = c.text if c else ""
        s = h.to_json() | {
            "prediction": pred,
            "exact_match": metrics.exact_match(pred, h.target, multiline),
            "edit_similarity": metrics.edit_similarity(metrics.normalize(pred, multiline),
                                                       metrics.normalize(h.target, multiline)),
            "stop_reason": c.stop_reason if c else "empty",
        }
        if run_tests:
            repo = repos[h.repo]
            tests = repo.tests_for(h.path)
            if not ctx.hole_is_tested(h):
                s["tests"] = None  # no passing suite, or one that does not execute the hole: not scored
            elif s["exact_match"]:
                s["tests"] = True  # the same code as the original, which passes
            else:
                r = repo.run_tests(tests, {h.path: h.prefix + pred + h.suffix})
                s["tests"] = r.ok
                s["tests_output"] = (r.stdout + r.stderr)[-600:]
        samples.append(s)
        if (i + 1) % 5 == 0:
            ctx.log(f"  {kind}: {i + 1}/{len(holes)}")
    out = {
        "n": len(samples),
        "exact_match": metrics.mean([float(s["exact_match"]) for s in samples]),
        "edit_similarity": metrics.mean([s["edit_similarity"] for s in samples]),
        "empty_rate": metrics.mean([float(not s["prediction"]) for s in samples]),
    }
    if run_tests:
        scored = [s["tests"] for s in samples if s.get("tests") is not None]
        out["tests_n"] = len(scored)
        out["tests_pass"] = metrics.mean([float(t) for t in scored])
    return {"metrics": out, "samples": samples, "samples_digest": digest([h.id for h in holes])}


def run_line(engine, ctx: EvalContext) -> dict:
    return _score_holes(engine, ctx, "line", run_tests=False)


def run_infill(engine, ctx: EvalContext) -> dict:
    """Single-line and multi-line holes; both scored by exact match and by the repo's tests."""
    t0 = time.perf_counter()
    single = _score_holes(engine, ctx, "single", ctx.run_repo_tests)
    multi = _score_holes(engine, ctx, "multi", ctx.run_repo_tests)
    m = {f"single_{k}": v for k, v in single["metrics"].items()} | {f"multi_{k}": v for k, v in multi["metrics"].items()}
    return {"metrics": m, "samples": single["samples"] + multi["samples"],
            "samples_digest": digest([single["samples_digest"], multi["samples_digest"]]),
            "seconds": time.perf_counter() - t0}
