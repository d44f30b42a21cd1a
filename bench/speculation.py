"""Prompt-lookup speculation: decode speed with drafts of 0, 3 and 6 tokens, same run, same text.

    .venv/bin/python bench/speculation.py [int8|int4|none]

Greedy output is identical for every draft length (tests/model/test_local_engine.py checks it);
only the speed changes. Each setting runs twice, interleaved, best kept: these machines are noisy.
"""
import time
from model.factory import load_engine
from model.config import EngineConfig
from model.types import NEVER_CANCELLED
import sys
quant = sys.argv[1] if len(sys.argv) > 1 else "int8"
e = load_engine(EngineConfig(quantize=quant))
src = open("examples/stats.py").read()
cut = src.index("def standard_deviation")
prefix = src[:cut] + "def sample_variance(values: list[float]) -> float:\n    \"\"\"Sample variance (divides by n - 1).\"\"\"\n    m = mean(values)\n"
ids = e.tok(prefix, add_special_tokens=False)["input_ids"]
for la in (0, 3, 6, 0, 3, 6):
    e.lookahead = la
    e.stop_ids = set()
    best = 0
    for r in range(2):
        e.slots.clear(); slot = e._slot("s")
        lg, _ = e._prefill(slot, ids, NEVER_CANCELLED)
        t = time.perf_counter(); toks = [t_ for t_, _ in e._decode(slot, lg, 48, NEVER_CANCELLED)]; dt = time.perf_counter() - t
        best = max(best, len(toks) / dt)
    print(quant, "lookahead", la, f"{best:.1f} tok/s", repr(e.tok.decode(toks)[:60]))
