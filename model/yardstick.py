"""`wingman bench --against-llamacpp`: our engine and llama.cpp on the same GGUF, in the same run,
with the same threads, prompt and generation lengths, and the same statistic (the median over
repeats), on a prompt that does not repeat itself. Plain decode on both sides; our prompt-lookup
drafts are a separate row (they only help text that repeats its context)."""

from __future__ import annotations

import random
import statistics
import time

import torch

from model.config import EngineConfig
from model.kernels import cpu_features
from model.types import NEVER_CANCELLED


def _prompt_ids(vocab: int, n: int, seed: int = 0) -> list[int]:
    """Random ids, as llama-bench's prompt is: nothing repeats, so no draft can help."""
    rng = random.Random(seed)
    return [rng.randrange(100, vocab - 1) for _ in range(n)]


def bench_ours(engine, n_prompt: int, n_gen: int, repeats: int) -> dict:
    decoder = engine.decoder
    ids = _prompt_ids(len(engine.tok), n_prompt)
    stop_ids, lookahead = decoder.stop_ids, decoder.lookahead
    decoder.stop_ids = set()
    out: dict[str, list[float]] = {"prefill": [], "decode": [], "decode_lookup": []}
    try:
        for _ in range(repeats):
            for la, key in ((0, "decode"), (lookahead, "decode_lookup")):
                decoder.lookahead = la
                decoder.drop("yardstick")
                slot = decoder.slot("yardstick")
                t = time.perf_counter()
                logits, _ = decoder.prefill(slot, ids, NEVER_CANCELLED)
                if la == 0:
                    out["prefill"].append(n_prompt / (time.perf_counter() - t))
                t = time.perf_counter()
                n = sum(1 for _ in decoder.tokens(slot, logits, n_gen, NEVER_CANCELLED))
                out[key].append(n / (time.perf_counter() - t))
    finally:
        decoder.stop_ids, decoder.lookahead = stop_ids, lookahead
        decoder.drop("yardstick")
    return {f"{k}_tok_s": statistics.median(v) for k, v in out.items()}


def run(config: EngineConfig, gguf: str | None = None, n_prompt: int = 512, n_gen: int = 64, repeats: int = 3) -> dict:
    from model import llamacpp
    from model.factory import load_engine

    found, why = llamacpp.binaries()
    if found is None:
        raise SystemExit(f"llama.cpp is not built here ({why}); run `make llamacpp` (once per machine)")
    path = gguf or str(llamacpp.base_gguf())  # the base model's own GGUF: base against base
    threads = config.threads or torch.get_num_threads()
    engine = load_engine(EngineConfig(**{**vars(config), "model": path, "adapter": None, "threads": threads,
                                         "adaptive_threads": False}))
    ours = bench_ours(engine, n_prompt, n_gen, repeats)
    theirs = llamacpp.run_llama_bench(llamacpp.Path(path), threads, n_prompt, n_gen, repeats)
    result = {"cpu": cpu_features(), "threads": threads, "n_prompt": n_prompt, "n_gen": n_gen, "repeats": repeats,
              "gguf": path, "wingman": ours, "wingman_kernels": getattr(engine.backbone, "plan", None) and
              engine.backbone.plan.describe(), "llamacpp": theirs,
              "ratio_prefill": ours["prefill_tok_s"] / theirs["prefill_tok_s"],
              "ratio_decode": ours["decode_tok_s"] / theirs["decode_tok_s"]}
    print(f"CPU: {result['cpu']}; {threads} threads; -p {n_prompt} -n {n_gen}, median of {repeats}")
    print(f"llama.cpp: {theirs.get('system_info', '')}")
    print(f"Wingman kernels: {result['wingman_kernels']}")
    print(f"{'engine':28} {'prefill tok/s':>14} {'decode tok/s':>13}")
    print(f"{'llama.cpp (llama-bench)':28} {theirs['prefill_tok_s']:14.1f} {theirs['decode_tok_s']:13.1f}")
    print(f"{'Wingman':28} {ours['prefill_tok_s']:14.1f} {ours['decode_tok_s']:13.1f}")
    print(f"{'Wingman + prompt-lookup':28} {'':14} {ours['decode_lookup_tok_s']:13.1f}")
    print(f"{'ratio Wingman / llama.cpp':28} {result['ratio_prefill']:14.2f} {result['ratio_decode']:13.2f}")
    return result
