"""Same requests on the real default model: texts and prefill/decode times (no time budget).

    PYTHONPATH=$TREE python bench/memory-2026-12-02b/same_output.py OUT.json KERNELS   # once per plan; compare the texts
"""
import argparse as _ap, json, sys, time
from pathlib import Path
from model.config import EngineConfig
from model.local import LocalEngine
from model.types import CompletionRequest
t0 = time.perf_counter()
eng = LocalEngine.load(EngineConfig(kernels=sys.argv[2]))
load_s = time.perf_counter() - t0
text = Path(_ap.__file__).read_text()
lines = text.splitlines(keepends=True)
out = {"load_s": round(load_s, 1), "plan": eng.backbone.plan.describe(), "runs": []}
for line in (1218, 2218, 2064, 176, 2552, 1278):
    cut = sum(len(x) for x in lines[:line]) + len(lines[line]) - len(lines[line].lstrip()) + 4
    for k in range(3):  # a jump, then two keystrokes typed
        req = CompletionRequest(prefix=text[:cut + k], suffix=text[cut + k:], path="argparse.py")
        t = time.perf_counter()
        c = eng.complete(req)
        ms = (time.perf_counter() - t) * 1000
        tm = c[0].timings if c else None
        out["runs"].append({"line": line, "k": k, "text": c[0].text if c else None, "ms": round(ms),
                            "prefill_ms": round(tm.prefill_ms) if tm else None, "cached": tm.cached_tokens if tm else None,
                            "prompt": tm.prompt_tokens if tm else None})
s = eng.score(text[40000:46000])
out["score_sum"] = round(sum(x.logprob for x in s), 4)
json.dump(out, open(sys.argv[1], "w"), indent=1)
jumps = [r["ms"] for r in out["runs"] if r["k"] == 0]
print(sys.argv[1], "load", out["load_s"], "jump ms", jumps, "typed ms", [r["ms"] for r in out["runs"] if r["k"]], "score", out["score_sum"])
