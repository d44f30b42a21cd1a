"""`wingman bench`: prefill, decode and keystroke latency of our engine against plain HF generate(),
measured in the same run (these machines are noisy: compare ratios, not absolute numbers)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import torch

from model.config import EngineConfig
from model.types import NEVER_CANCELLED, CompletionRequest

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "stats.py"


def _prompt_text(tokenizer, n_tokens: int) -> str:
    text = SAMPLE.read_text() if SAMPLE.is_file() else "def f(x):\n    return x\n" * 50
    while len(tokenizer(text)["input_ids"]) < n_tokens:
        text += text
    ids = tokenizer(text)["input_ids"][:n_tokens]
    return tokenizer.decode(ids)


def bench_hf_generate(model_dir: str, tokenizer, prompt: str, tokens: int, repeats: int) -> dict:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"]
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(ids)
            prefill.append(ids.shape[1] / (time.perf_counter() - t0))
            t0 = time.perf_counter()
            out = model.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
            dt = time.perf_counter() - t0
            n = out.shape[1] - ids.shape[1]
            # generate() = one prefill + n-1 decode steps; take the prefill out
            decode.append(n / max(dt - ids.shape[1] / prefill[-1], 1e-6))
    return {"prefill_tok_s": max(prefill), "decode_tok_s": max(decode)}


def bench_engine(engine, prompt: str, tokens: int, repeats: int) -> dict:
    """Prefill and decode speed; decode plain (no drafts) and with prompt-lookup drafts, on a
    prompt that repeats itself (as code often does, and as the drafts need)."""
    ids = engine.tok(prompt, add_special_tokens=False)["input_ids"]
    decoder = engine.decoder
    stop_ids, decoder.stop_ids = decoder.stop_ids, set()  # decode exactly `tokens` tokens
    lookahead = decoder.lookahead
    prefill, decode, decode_lookup = [], [], []
    try:
        for _ in range(repeats):
            for la, into in ((0, decode), (lookahead, decode_lookup)):
                decoder.lookahead = la
                slot = decoder.slot("bench")
                t0 = time.perf_counter()
                logits, _ = decoder.prefill(slot, ids, NEVER_CANCELLED)
                prefill.append(len(ids) / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                n = sum(1 for _ in decoder.tokens(slot, logits, tokens, NEVER_CANCELLED))
                into.append(n / (time.perf_counter() - t0))
                decoder.drop("bench")
    finally:
        decoder.stop_ids, decoder.lookahead = stop_ids, lookahead
    return {"prefill_tok_s": max(prefill), "decode_tok_s": max(decode), "decode_lookup_tok_s": max(decode_lookup)}


def bench_keystrokes(engine, reuse: bool) -> dict:
    """Type a line of code character by character and complete after each keystroke."""
    src = SAMPLE.read_text()
    cut = src.index("def clamp(")
    typed = "def clamp(value: float, low: float, high: float) -> float:"
    latencies, cached = [], []
    for i in range(1, len(typed) + 1, 3):
        if not reuse:
            engine.decoder.drop("complete")
        req = CompletionRequest(prefix=src[:cut] + typed[:i], suffix="\n\n" + src[cut + len(typed):],
                                mode="single", max_tokens=16)
        t0 = time.perf_counter()
        out = engine.complete(req)
        latencies.append((time.perf_counter() - t0) * 1000)
        if out:
            cached.append(out[0].timings.cached_tokens / max(out[0].timings.prompt_tokens, 1))
    latencies.sort()
    return {"p50_ms": statistics.median(latencies), "p90_ms": latencies[int(len(latencies) * 0.9) - 1],
            "cached_share": statistics.mean(cached) if cached else 0.0, "keystrokes": len(latencies)}


def run_bench(config: EngineConfig, tokens: int = 64, repeats: int = 3, out: str | None = None,
              skip_baseline: bool = False) -> dict:
    """Every quantization when `config.quantize` is "auto", else that one; HF generate() first."""
    from model.factory import load_engine
    from model.loading import resolve

    torch.manual_seed(0)
    results: dict = {"threads": torch.get_num_threads(), "tokens": tokens}
    quants = [config.quantize] if config.quantize != "auto" else ["none", "int8", "int4"]
    engines = {q: load_engine(replace(config, quantize=q)) for q in quants}
    some = next(iter(engines.values()))
    prompt = _prompt_text(some.tok, 512)
    if not skip_baseline:
        resolved = resolve(config.model, config.adapter)
        results["hf_generate_fp32"] = bench_hf_generate(str(resolved.model_dir), some.tok, prompt, tokens, repeats)
    for q, engine in engines.items():
        dtype = str(getattr(engine.backbone, "dtype", "none")).split(".")[-1]
        r = bench_engine(engine, prompt, tokens, repeats)
        r["keystroke_reuse"] = bench_keystrokes(engine, reuse=True)
        r["keystroke_no_reuse"] = bench_keystrokes(engine, reuse=False)
        results[f"wingman_{q if q != 'none' else dtype}"] = r
    print_table(results)
    if out:
        Path(out).write_text(json.dumps(results, indent=2) + "\n")
    return results


def print_table(results: dict) -> None:
    base_r = results.get("hf_generate_fp32")
    print(f"{'configuration':22} {'prefill tok/s':>14} {'decode tok/s':>13} {'x HF decode':>12} {'+lookup tok/s':>14} "
          f"{'keystroke p50 ms':>17} {'(no reuse)':>11} {'cached':>7}")
    for k, r in results.items():
        if not isinstance(r, dict):
            continue
        ratio = f"{r['decode_tok_s'] / base_r['decode_tok_s']:.2f}" if base_r else "-"
        ks = r.get("keystroke_reuse", {})
        nr = r.get("keystroke_no_reuse", {})
        print(f"{k:22} {r['prefill_tok_s']:14.0f} {r['decode_tok_s']:13.1f} {ratio:>12} {r.get('decode_lookup_tok_s', float('nan')):14.1f} "
              f"{ks.get('p50_ms', float('nan')):17.0f} {nr.get('p50_ms', float('nan')):11.0f} {ks.get('cached_share', 0):7.0%}")
