"""Precision and recall of Wingman's model-based hints, and the calibration of their threshold.

Plant one-token bugs (`<` for `<=`, `+` for `-`, a wrong variable name, 0 for 1, ...) in real
functions, score the clean and the buggy text with the engine, and count:
- recall: planted bugs that get a hint on the changed token;
- precision: hints that sit on a planted bug, over all hints (clean files' hints all count as false).
The hints are chosen exactly as the server chooses them (server/hints.py: find_hints + pick).

    .venv/bin/python bench/diagnostics_eval.py --functions 40          # the default model
    .venv/bin/python bench/diagnostics_eval.py --engine fake --functions 5  # smoke test
"""

from __future__ import annotations

import argparse
import ast
import inspect
import io
import json
import pickle
import random
import sys
import time
import tokenize
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.hints import find_hints, pick  # noqa: E402

SOURCES = ["statistics", "bisect", "heapq", "textwrap", "colorsys", "fractions", "difflib", "shlex",
           "calendar", "fnmatch", "base64", "quopri", "random", "string", "ipaddress", "glob"]
SWAPS = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "==", "+": "-", "-": "+",
         "and": "or", "or": "and", "0": "1", "1": "0"}
THRESHOLDS = [-3.0, -4.0, -5.0, -6.0, -7.0, -8.0, -9.0, -10.0, -11.0, -12.0, -14.0]


@dataclass
class Case:
    name: str
    clean: str
    buggy: str
    start: int  # the planted token's span in `buggy`
    end: int
    kind: str
    original: str = ""


def functions(n: int, seed: int) -> list[tuple[str, str]]:
    """(qualified name, source) of top-level functions of 5-30 lines from stdlib modules."""
    import importlib

    found = []
    for mod_name in SOURCES:
        try:
            src = inspect.getsource(importlib.import_module(mod_name))
        except (OSError, TypeError, ImportError):
            continue
        for node in ast.parse(src).body:
            if isinstance(node, ast.FunctionDef) and 5 <= (node.end_lineno - node.lineno) <= 30:
                text = ast.get_source_segment(src, node)
                if text and "\t" not in text:
                    found.append((f"{mod_name}.{node.name}", text + "\n"))
    random.Random(seed).shuffle(found)
    return found[:n]


def _offsets(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(True):
        pos += len(line)
        starts.append(pos)
    return starts


def plant(name: str, text: str, rng: random.Random) -> Case | None:
    """One one-token bug, in code (not in strings, comments or the docstring)."""
    starts = _offsets(text)
    toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    names = sorted({t.string for t in toks if t.type == tokenize.NAME and t.string.isidentifier()
                    and t.string not in __import__("keyword").kwlist and len(t.string) > 1})
    candidates = []
    for i, t in enumerate(toks):
        if t.start[0] == 1:
            continue  # not the def line
        start = starts[t.start[0] - 1] + t.start[1]
        end = starts[t.end[0] - 1] + t.end[1]
        if t.string in SWAPS and t.type in (tokenize.OP, tokenize.NAME, tokenize.NUMBER):
            candidates.append((start, end, SWAPS[t.string], "operator" if t.type != tokenize.NUMBER else "constant"))
        elif t.type == tokenize.NAME and t.string in names and i > 0 and toks[i - 1].string not in (".", "def", "class", "import"):
            later = text[end:].lstrip()
            if later.startswith(("=", "(")) and not later.startswith("=="):
                continue  # an assignment target or a call: swapping a name there is not "wrong variable"
            others = [n for n in names if n != t.string and text.count(n) >= 2 and not n[0].isupper()]
            seen_before = text.count(t.string, 0, start) >= 1
            if others and seen_before:
                candidates.append((start, end, rng.choice(others), "name"))
    if not candidates:
        return None
    # Balance the kinds of bug: pick the kind first, then a place for it.
    kind = rng.choice(sorted({c[3] for c in candidates}))
    start, end, new, kind = rng.choice([c for c in candidates if c[3] == kind])
    buggy = text[:start] + new + text[end:]
    return Case(name, text, buggy, start, start + len(new), kind, text[start:end])


def evaluate(cases: list[Case], scores: dict[str, tuple[list, list]], threshold: float, max_per_file: int) -> dict:
    tp = fp = found = 0
    fp_clean = 0
    for c in cases:
        clean_scores, buggy_scores = scores[c.name]
        clean_hints = pick(find_hints(c.clean, clean_scores, threshold), c.clean, max_per_file)
        buggy_hints = pick(find_hints(c.buggy, buggy_scores, threshold), c.buggy, max_per_file)
        fp_clean += len(clean_hints)
        hit = [h for h in buggy_hints if h.start < c.end and c.start < h.end]
        found += bool(hit)
        tp += len(hit)
        fp += len(buggy_hints) - len(hit)
    hints = tp + fp + fp_clean
    return {"threshold": threshold, "recall": found / len(cases), "precision": tp / hints if hints else 1.0,
            "hints_per_buggy_file": (tp + fp) / len(cases), "hints_per_clean_file": fp_clean / len(cases)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", choices=("local", "fake"), default="local")
    ap.add_argument("--model", default="default")
    ap.add_argument("--functions", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-per-file", type=int, default=5)
    ap.add_argument("--out", help="write the table as JSON here")
    ap.add_argument("--cache", help="keep the engine's scores in this pickle (reused when present)")
    ap.add_argument("--exclude", help="a --cache pickle of another run: leave its functions out (a held-out set)")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    excluded = set(pickle.loads(Path(args.exclude).read_bytes())) if args.exclude else set()
    cases = [c for name, text in functions(10_000, args.seed)
             if name not in excluded and (c := plant(name, text, rng))][: args.functions]
    scores: dict[str, tuple[list, list]] = {}
    cache = Path(args.cache) if args.cache else None
    if cache and cache.exists():
        scores = pickle.loads(cache.read_bytes())
    missing = [c for c in cases if c.name not in scores]
    if missing:
        from model.config import EngineConfig
        from model.factory import load_engine

        fake = {"surprising": {"<": "<=", "+": "-"}} if args.engine == "fake" else None
        t0 = time.perf_counter()
        engine = load_engine(EngineConfig(backend=args.engine, model=args.model, fake=fake))
        print(f"engine: {engine.info.name} ({engine.info.backend}, {engine.info.quantization}) "
              f"loaded in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        tokens = 0
        for i, c in enumerate(missing):
            a, b = engine.score(c.clean), engine.score(c.buggy)
            scores[c.name] = (a, b)
            tokens += len(a) + len(b)
            print(f"  [{i + 1}/{len(missing)}] {c.name}: {c.kind} {c.original!r} -> {c.buggy[c.start:c.end]!r}", flush=True)
            if cache:
                cache.write_bytes(pickle.dumps(scores))
        elapsed = time.perf_counter() - t0
        print(f"scored {tokens} tokens in {elapsed:.1f}s ({1000 * elapsed / max(tokens, 1):.1f} ms/token)")
    kinds = {k: sum(c.kind == k for c in cases) for k in ("operator", "constant", "name")}
    print(f"{len(cases)} functions, each scored clean and with one planted bug: {kinds}")
    rows = [evaluate(cases, scores, t, args.max_per_file) for t in THRESHOLDS]
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'hints/buggy':>11} {'hints/clean':>11}")
    for r in rows:
        print(f"{r['threshold']:>9.1f} {r['precision']:>9.2f} {r['recall']:>7.2f} {r['hints_per_buggy_file']:>11.2f} {r['hints_per_clean_file']:>11.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows, "cases": len(cases), "kinds": kinds}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
