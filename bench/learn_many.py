"""100k files in a plain folder: how long collect + split take with the 20,000-file bound."""
import json, random, time
from pathlib import Path
WORDS = "alpha beta gamma delta omega sigma kappa theta rho tau zeta eta iota nu xi pi phi chi psi".split()
OPS = ["+", "-", "*", "//", "%"]
def module(i, n_funcs=6):
    rng = random.Random(i)
    out = [f'"""Module {i}: helpers for {rng.choice(WORDS)} records."""', "import math", "from collections import Counter", ""]
    for j in range(n_funcs):
        name = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}_{j}"
        a, b = rng.sample(WORDS, 2)
        op = rng.choice(OPS)
        k = rng.randint(2, 97)
        out += [f"def {name}({a}, {b}):",
                f"    total = {a} {op} {b}",
                f"    if total > {k}:",
                f"        total = total - {k}",
                f"    values = [total * x for x in range({rng.randint(2, 9)})]",
                f"    return Counter(values).most_common({rng.randint(1, 3)})", "", ""]
    return "\n".join(out)

root = Path("/tmp/learn_100k")
if not root.exists():
    for i in range(100_000):
        d = root / f"pkg{i // 1000}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"m{i}.py").write_text(module(i, 2))
from training.learn.files import collect
from training.learn.split import split
from training.io import peak_rss_mib
t = time.perf_counter(); found = collect(root); t1 = time.perf_counter()
parts = split(found.files); t2 = time.perf_counter()
print(json.dumps({"listed": found.counts["listed"], "kept": len(found.files), "sampled": found.sampled,
                  "collect_s": round(t1 - t, 1), "split_s": round(t2 - t1, 1), "heldout": len(parts.heldout),
                  "train": len(parts.train), "peak_rss_mib": peak_rss_mib()}))
