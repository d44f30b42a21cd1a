"""`PYTHONPATH=. python bench/learn_latency.py LABEL [N]`: completion latency of the default model (int4, 2 threads) on a boltons file: N single-line
completions at seeded cursors, first one discarded. Prints JSON with p50/p90 and the load average."""
import json, os, random, statistics, sys, time
from pathlib import Path
from model.config import EngineConfig
from model.factory import load_engine
from model.types import CancelToken, CompletionRequest
label = sys.argv[1]; n = int(sys.argv[2]) if len(sys.argv) > 2 else 15
text = Path("/tmp/learn_boltons/boltons/strutils.py").read_text()
lines = text.split("\n")
eng = load_engine(EngineConfig())
rng = random.Random(7)
ms = []
for i in range(n + 1):
    k = rng.randrange(50, len(lines) - 5)
    off = sum(len(l) + 1 for l in lines[:k]) + len(lines[k]) // 2
    req = CompletionRequest(prefix=text[:off], suffix=text[off:], language="python", path="strutils.py",
                            mode="single", max_tokens=16, budget=1024)
    t = time.perf_counter(); eng.complete(req, CancelToken()); dt = (time.perf_counter() - t) * 1000
    if i: ms.append(dt)
ms.sort()
print(json.dumps({"label": label, "n": n, "p50_ms": round(statistics.median(ms)), "p90_ms": round(ms[int(0.9 * (n - 1))]),
                  "mean_ms": round(statistics.mean(ms)), "loadavg": os.getloadavg()}))
