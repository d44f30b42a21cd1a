"""Prompt-lookup speculation: decode speed with drafts of 0, 3 and 6 tokens, same run, same text.

    .venv/bin/python bench/speculation.py [int8|int4|none]

Greedy output is identical for every draft length (tests/model/test_local_engine.py checks it);
only the speed changes. Each setting runs twice, interleaved, best kept: these machines are noisy.
"""
import sys
import time

from model.config import EngineConfig
from model.factory import load_engine
from model.types import NEVER_CANCELLED

quant = sys.argv[1] if len(sys.argv) > 1 else "int8"
engine = load_engine(EngineConfig(quantize=quant))
decoder = engine.decoder  # the decode loop's public seam (model/decode.py)
src = open("examples/stats.py").read()
cut = src.index("def standard_deviation")
prefix = src[:cut] + "def sample_variance(values: list[float]) -> float:\n    \"\"\"Sample variance (divides by n - 1).\"\"\"\n    m = mean(values)\n"
ids = engine.tok(prefix, add_special_tokens=False)["input_ids"]
decoder.stop_ids = set()
for la in (0, 3, 6, 0, 3, 6):
    decoder.lookahead = la
    best, toks = 0.0, []
    for _ in range(2):
        decoder.drop("s")
        slot = decoder.slot("s")
        logits, _ = decoder.prefill(slot, ids, NEVER_CANCELLED)
        t = time.perf_counter()
        toks = [tok for tok, _ in decoder.tokens(slot, logits, 48, NEVER_CANCELLED)]
        best = max(best, len(toks) / (time.perf_counter() - t))
    print(quant, "lookahead", la, f"{best:.1f} tok/s", repr(engine.tok.decode(toks)[:60]))
