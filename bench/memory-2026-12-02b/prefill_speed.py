"""Prefill and decode speed of the default model under fixed kernel plans, in one process,
interleaved rounds, best of each (the machine is shared: the minimum is what a plan costs when it
gets the cores).

    PYTHONPATH=$TREE python bench/memory-2026-12-02b/prefill_speed.py OUT.json [PLAN ...]
"""
import json, sys, time
from dataclasses import replace
from pathlib import Path
import argparse as _ap

from model.config import EngineConfig
from model.kernels import cpu_features
from model.local import LocalEngine
from model.types import NEVER_CANCELLED

plans = sys.argv[2:] or ["int4/bf16/float32", "int4/int4dq/float32", "int4/int4/float32"]
engines = {p: LocalEngine.load(EngineConfig(model="base", kernels=p)) for p in plans}
text = Path(_ap.__file__).read_text()
sizes = (128, 512, 1024)
best = {p: {**{f"prefill{n}_tok_s": 0.0 for n in sizes}, "decode_tok_s": 0.0} for p in plans}
load = [round(x, 2) for x in __import__("os").getloadavg()]
for r in range(3):
    for p, eng in engines.items():
        ids = eng.tok(text, add_special_tokens=False)["input_ids"]
        d = eng.decoder
        stops, d.stop_ids, look, d.lookahead = d.stop_ids, set(), d.lookahead, 0
        for n in sizes:
            slot = d.slot("bench")
            t0 = time.perf_counter()
            logits, _ = d.prefill(slot, ids[r * 50: r * 50 + n], NEVER_CANCELLED)  # a fresh prompt each round
            best[p][f"prefill{n}_tok_s"] = max(best[p][f"prefill{n}_tok_s"], n / (time.perf_counter() - t0))
            if n == sizes[-1]:
                t0 = time.perf_counter()
                k = sum(1 for _ in d.tokens(slot, logits, 16, NEVER_CANCELLED))
                best[p]["decode_tok_s"] = max(best[p]["decode_tok_s"], k / (time.perf_counter() - t0))
            d.drop("bench")
        d.stop_ids, d.lookahead = stops, look
out = {"cpu": cpu_features(), "load_start": load, "load_end": [round(x, 2) for x in __import__("os").getloadavg()],
       "results": {p: {k: round(v, 1) for k, v in b.items()} for p, b in best.items()}}
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(json.dumps(out, indent=1))
