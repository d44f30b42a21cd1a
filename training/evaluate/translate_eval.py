"""`wingman eval --tasks translate`: today's single greedy translation and the verified one, on
the same held-out functions in the same run.

Per function and target: candidate 0 is the greedy sample (what the server showed before
verification); the loop of model/tasks/verify.py samples more until one is verified, N are
drawn, or the time budget is spent, exactly as the server does. The held-out tests (literal cases
mined from the repositories' own tests, converted to node asserts as MultiPL-E does) score every
candidate but never choose one: the inputs the checker runs come from model/tasks/inputs.py,
which sees only the source. Reported per target:
- `pass_rate`: the greedy sample (today);
- `shown_pass_rate`: pass@1 of what the user is shown (the verified candidate, else the best
  unverified one);
- `verified_share`: tasks with a verified candidate;
- `verified_fail_rate`: of the outputs labelled verified, the share failing the held-out tests
  (target 0), and `verified_fail_n`;
- `curve`: for n = 1..N, the shown pass rate and the median/mean seconds had the loop stopped at n
  (sampling stops at the first verified candidate, so a smaller N is a prefix of this run);
- `min_inputs_sweep`: for other `min_inputs`, with and without the branch rule, how many
  candidates would be labelled verified and how many of those fail the held-out tests (observed
  only, never used to pick the defaults).
"""

from __future__ import annotations

import statistics
import time

from model.tasks import prompts, verify
from training.evaluate import metrics
from training.evaluate.context import EvalContext, digest

DEFAULTS = {"targets": ["javascript"], "candidates": 4, "budget_s": 90.0, "max_tokens": 512}
SWEEP = (1, 2, 3, 5, 8, 12)


def _verified_at(c: dict, k: int, branches: bool = True) -> bool:
    return bool(c["tool_ok"]) and c["runnable"] and bool(c["functions"]) and all(
        f["inputs"] == f["agreed"] and f["inputs"] >= k and (f["all_branches"] or not branches) for f in c["functions"])


def run(engine, ctx: EvalContext, generate, heldout_pass, js_cases) -> dict:
    opts = {**DEFAULTS, **(getattr(ctx, "translate", None) or {})}
    options = verify.VerifyOptions(candidates=int(opts["candidates"]), budget_s=float(opts["budget_s"]))
    fns = [(f, js_cases(f.name, f.cases)) for f in ctx.functions()]
    fns = [(f, a) for f, a in fns if len(a) >= 2]
    fns = fns if ctx.limit is None else fns[: ctx.limit]
    out_metrics: dict = {}
    samples = []
    for target in opts["targets"]:
        rows = []
        for i, (f, asserts) in enumerate(fns):
            messages = prompts.translate(f.source, "python", target)
            t0 = time.perf_counter()
            p = verify.plan(f.source, "python", target, only=[f.name], options=options)
            plan_s = time.perf_counter() - t0

            def sample(k: int, messages=messages, target=target) -> str:
                reply = generate(engine, messages, int(opts["max_tokens"]), target,
                                 temperature=0.0 if k == 0 else options.temperature)
                return prompts.extract_code(reply, target)

            res = verify.run(sample, p, options)
            cands = []
            for c in res.candidates:
                passed, error = heldout_pass(target, c.code, asserts) if c.code.strip() else (0, "no code")
                cands.append({
                    "index": c.index, "code": c.code, "gen_s": round(c.seconds, 3), "check_s": round(c.check_seconds, 3),
                    "tool_ok": c.tool.ok if c.tool else None, "tool": c.tool.describe() if c.tool else "",
                    "runnable": p.runnable, "verified": c.verified, "summary": c.summary,
                    "functions": [{"name": v.name, "inputs": v.inputs, "agreed": v.agreed,
                                   "all_branches": bool(v.coverage and v.coverage.complete),
                                   "coverage": v.coverage.describe() if v.coverage else ""} for v in c.functions],
                    "heldout_passed": passed, "heldout_all": passed == len(asserts), "heldout_error": error})
            chosen = res.chosen.index if res.chosen else None
            row = {"id": f.id, "function": f.name, "target": target, "asserts": len(asserts),
                   "plan_s": round(plan_s, 3), "plan_notes": p.notes,
                   "inputs": [len(r.inputs) for r in p.functions], "candidates": cands, "chosen": chosen,
                   "stopped": res.stopped, "seconds": round(plan_s + res.seconds, 3)}
            rows.append(row)
            samples.append(row)
            ctx.log(f"  translate {target} {i + 1}/{len(fns)} {f.name}: {res.stopped}, "
                    f"shown {'passes' if chosen is not None and cands[chosen]['heldout_all'] else 'fails'} "
                    f"({'verified' if chosen is not None and cands[chosen]['verified'] else 'unverified'}), "
                    f"{row['seconds']:.0f}s")
        out_metrics[target] = summarise(rows, options.candidates)
    first = out_metrics[opts["targets"][0]] if opts["targets"] else {}
    m = {"n": first.get("n", 0), "pass_rate": first.get("pass_rate"), "assert_pass_rate": first.get("assert_pass_rate"),
         "shown_pass_rate": first.get("shown_pass_rate"), "verified_fail_n": first.get("verified_fail_n"),
         "verified_share": first.get("verified_share"), "verified_fail_rate": first.get("verified_fail_rate"),
         "candidates": options.candidates, "budget_s": options.budget_s, "min_inputs": options.min_inputs,
         "targets": out_metrics}
    return {"metrics": m, "samples": samples, "samples_digest": digest([f.id for f, _ in fns])}


def _shown(row: dict, n: int) -> tuple[dict | None, float]:
    """What the user is shown had the loop stopped at n candidates, and the seconds it took."""
    cands = row["candidates"][:n]
    if not cands:
        return None, row["plan_s"]
    seconds = row["plan_s"] + sum(c["gen_s"] + c["check_s"] for c in cands)
    verified = [c for c in cands if c["verified"]]
    if verified:
        return verified[0], seconds
    best = max(cands, key=lambda c: (bool(c["tool_ok"]),
                                     _agree_ratio(c), sum(f["agreed"] for f in c["functions"]), -c["index"]))
    return best, seconds


def _agree_ratio(c: dict) -> float:
    inputs = sum(f["inputs"] for f in c["functions"])
    return sum(f["agreed"] for f in c["functions"]) / inputs if inputs else 0.0


def summarise(rows: list[dict], n_max: int) -> dict:
    if not rows:
        return {"n": 0}
    greedy = [r["candidates"][0]["heldout_all"] if r["candidates"] else False for r in rows]
    shown = [r["candidates"][r["chosen"]] if r["chosen"] is not None else None for r in rows]
    verified = [c for c in shown if c and c["verified"]]
    every_verified = [c for r in rows for c in r["candidates"] if c["verified"]]
    curve = []
    for n in range(1, n_max + 1):
        picks = [_shown(r, n) for r in rows]
        times = [t for _, t in picks]
        curve.append({"n": n, "shown_pass_rate": metrics.mean([float(bool(c and c["heldout_all"])) for c, _ in picks]),
                      "verified_share": metrics.mean([float(bool(c and c["verified"])) for c, _ in picks]),
                      "median_s": statistics.median(times), "mean_s": statistics.fmean(times)})
    sweep = []
    for k in SWEEP:
        for need_branches in (True, False):  # without the branch rule: what it guards against
            labelled = [c for r in rows for c in r["candidates"] if _verified_at(c, k, need_branches)]
            sweep.append({"min_inputs": k, "all_branches": need_branches, "verified_candidates": len(labelled),
                          "failing_heldout": sum(not c["heldout_all"] for c in labelled)})
    return {
        "n": len(rows),
        "pass_rate": metrics.mean([float(x) for x in greedy]),
        "assert_pass_rate": (sum(r["candidates"][0]["heldout_passed"] for r in rows if r["candidates"])
                             / sum(r["asserts"] for r in rows)),
        "shown_pass_rate": metrics.mean([float(bool(c and c["heldout_all"])) for c in shown]),
        "verified_share": len(verified) / len(rows),
        "verified_fail_n": sum(not c["heldout_all"] for c in verified),
        "verified_fail_rate": (sum(not c["heldout_all"] for c in verified) / len(verified)) if verified else None,
        "verified_candidates_failing": sum(not c["heldout_all"] for c in every_verified),
        "tool_ok_rate_greedy": metrics.mean([float(bool(r["candidates"] and r["candidates"][0]["tool_ok"])) for r in rows]),
        "runnable_share": metrics.mean([float(not r["plan_notes"]) for r in rows]),
        "median_s": statistics.median(r["seconds"] for r in rows),
        "mean_candidates": statistics.fmean(len(r["candidates"]) for r in rows),
        "curve": curve,
        "min_inputs_sweep": sweep,
    }
