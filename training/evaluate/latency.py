"""Editor-shaped latency through `engine.complete`: the first completion in a file (time to first
completion) and then one request per typed character, as an editor sends them, with the engine's
own Timings (prompt and cached tokens, prefill and decode ms). `wingman bench` measures raw decode
speed; this measures what a user waits for."""

from __future__ import annotations

import time

from model.types import CancelToken, CompletionRequest
from training.evaluate import metrics
from training.evaluate.context import EvalContext, digest

KEYSTROKES = 12  # characters typed at each position
POSITIONS = 5  # at most, whatever --limit says (each position costs KEYSTROKES + 1 requests)


def _request(engine, prefix: str, suffix: str, path: str, budget: int) -> dict:
    t0 = time.perf_counter()
    out = engine.complete(CompletionRequest(prefix=prefix, suffix=suffix, path=path, mode="auto", budget=budget),
                          CancelToken())
    wall = (time.perf_counter() - t0) * 1000
    t = out[0].timings if out else None
    return {"wall_ms": wall, "prompt_tokens": t.prompt_tokens if t else None,
            "cached_tokens": t.cached_tokens if t else None, "prefill_ms": t.prefill_ms if t else None,
            "decode_ms": t.decode_ms if t else None, "generated_tokens": t.generated_tokens if t else None,
            "empty": not out}


def run_latency(engine, ctx: EvalContext) -> dict:
    positions = ctx.holes("single")[: min(POSITIONS, ctx.limit or POSITIONS)]
    samples = []
    for n, h in enumerate(positions):
        first = _request(engine, h.prefix, h.suffix, h.path, ctx.budget) | {"kind": "first", "position": h.id}
        samples.append(first | {"cold": n == 0})
        for k in range(1, min(KEYSTROKES, len(h.target)) + 1):
            samples.append(_request(engine, h.prefix + h.target[:k], h.suffix, h.path, ctx.budget)
                           | {"kind": "keystroke", "position": h.id})
    firsts = [s for s in samples if s["kind"] == "first"]
    keys = [s for s in samples if s["kind"] == "keystroke"]

    def vals(rows, field):
        return [r[field] for r in rows if r.get(field) is not None]

    prompt = sum(vals(keys, "prompt_tokens"))
    decoded, decode_ms = sum(vals(samples, "generated_tokens")), sum(vals(samples, "decode_ms"))
    fresh = sum(f["prompt_tokens"] - f["cached_tokens"] for f in firsts if f["prompt_tokens"] is not None)
    fresh_ms = sum(vals(firsts, "prefill_ms"))
    m = {
        "n": len(samples),
        "cold_first_ms": firsts[0]["wall_ms"] if firsts else None,
        "first_p50_ms": metrics.percentile(vals(firsts, "wall_ms"), 50),
        "first_p90_ms": metrics.percentile(vals(firsts, "wall_ms"), 90),
        "keystroke_p50_ms": metrics.percentile(vals(keys, "wall_ms"), 50),
        "keystroke_p90_ms": metrics.percentile(vals(keys, "wall_ms"), 90),
        "keystroke_cached_share": (sum(vals(keys, "cached_tokens")) / prompt) if prompt else None,
        "keystroke_prompt_tokens_mean": metrics.mean(vals(keys, "prompt_tokens")),
        "keystroke_prefill_p50_ms": metrics.percentile(vals(keys, "prefill_ms"), 50),
        "keystroke_decode_p50_ms": metrics.percentile(vals(keys, "decode_ms"), 50),
        "generated_tokens_mean": metrics.mean(vals(samples, "generated_tokens")),
        "decode_tok_s": 1000 * decoded / decode_ms if decode_ms else None,  # as `wingman bench` reports
        "first_prefill_tok_s": 1000 * fresh / fresh_ms if fresh_ms else None,
        "empty_rate": metrics.mean([float(s["empty"]) for s in samples]),
    }
    return {"metrics": m, "samples": samples, "samples_digest": digest([h.id for h in positions])}
