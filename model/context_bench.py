"""`wingman bench --context`: what repository context, the confidence gate and alternatives cost
a keystroke, measured in the same run against the single-candidate path without context.

- keystrokes: a line typed character by character in examples/stats.py (as model/bench.py
  does), completed after every third character; `plain` is today's path (no context, one
  candidate, no gate), `context` selects the context (model/tasks/retrieval.py) from two other
  open files on every keystroke, sends it, and gates the answer (model/gate.py). Percentiles
  include the keystrokes the gate answers with nothing.
- context change: once warm, another file is opened whose definitions enter the context: the
  prompt is re-prefilled from the context onward.
- alternatives: an explicit request at a warm cursor with N candidates against one.
"""

from __future__ import annotations

import statistics
import time

from model import gate
from model.tasks import retrieval
from model.types import CompletionRequest

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"
OPEN = ('"""Summaries built on stats.py."""\n\nfrom stats import mean, median, standard_deviation\n\n\n'
        'def summary(values):\n    """Mean, median and spread of the values."""\n'
        '    return {"mean": mean(values), "median": median(values), "sd": standard_deviation(values)}\n\n\n'
        'def zscores(values):\n    m, sd = mean(values), standard_deviation(values)\n    return [(v - m) / sd for v in values]\n')
NEW_FILE = ('def clamp_all(values, low, high):\n    """Every value clamped into [low, high]."""\n'
            '    return [min(max(v, low), high) for v in values]\n\n\ndef clamp_ratio(value, low, high):\n'
            '    return (clamp_all([value], low, high)[0] - low) / (high - low)\n')


def _stats(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"p50_ms": statistics.median(ms), "p90_ms": ms[max(0, int(len(ms) * 0.9) - 1)], "n": len(ms)}


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def _build_ms(engine, req: CompletionRequest) -> float | None:
    """The prompt's assembly alone (windows, the context's rendering and tokenizing), as the
    engine does it before each prefill; None for an engine without a token prompt builder."""
    builder = getattr(engine, "builder", None)
    if builder is None or not hasattr(builder, "build"):
        return None
    t0 = time.perf_counter()
    builder.build(req.prefix, req.suffix, req.budget, req.context, req.repo_name, req.repo_path or req.path)
    return (time.perf_counter() - t0) * 1000


def _forget_rendering(engine) -> None:
    """The `context_unmemoized` arm: the context re-rendered (tokenized) on every keystroke, as
    before model/tasks/repo_context.py kept its renderings; the same run shows what the memo saves."""
    memo = getattr(getattr(getattr(engine, "builder", None), "context", None), "_memo", None)
    if memo is not None:
        memo.clear()


def run(engine, alternatives: int = 3, threshold: float = gate.DEFAULT_THRESHOLD, rounds: int = 3,
        unmemoized: bool = True) -> dict:
    src = (EXAMPLES / "stats.py").read_text()
    cut = src.index("def clamp(")
    typed = "def clamp(value: float, low: float, high: float) -> float:"
    suffix = "\n\n" + src[cut + len(typed):]
    others = [("summary.py", OPEN), ("unfinished.py", (EXAMPLES / "unfinished.py").read_text())]

    def request(i: int, context=(), n: int = 1) -> CompletionRequest:
        return CompletionRequest(prefix=src[:cut] + typed[:i], suffix=suffix, mode="single", max_tokens=16,
                                 path="stats.py", repo_path="stats.py", repo_name="examples", context=context, n=n)

    out: dict = {}
    arms = ("plain", "context") + (("context_unmemoized",) if unmemoized else ())
    runs: dict = {k: ([], [], [], []) for k in arms}  # ms, shown, selection ms, tokens
    # Where the time goes, per keystroke: the engine's own timings, the gate, the prompt's assembly.
    parts: dict = {k: {"prefill_ms": [], "decode_ms": [], "new_tokens": [], "generated": [], "ms_per_token": [],
                       "gate_ms": [], "build_ms": [], "prompt_tokens": []} for k in runs}
    # Rounds alternate (plain, context, plain, context, ...): a busy machine's drift then falls on both.
    # Not keystroke by keystroke: the arms' prompts differ from their head, so alternating every
    # request would re-prefill each from scratch, which no editor does.
    for label in arms * rounds:
        with_context = label.startswith("context")
        engine.complete(request(1, retrieval.select(src[:cut], suffix, others) if with_context else ()))  # warm
        ms, shown_list, ctx_ms, tokens = runs[label]
        last = None
        for i in range(1, len(typed) + 1, 3):
            t0 = time.perf_counter()
            req = request(i)
            if with_context:
                t1 = time.perf_counter()
                files = retrieval.settle(last, retrieval.select(req.prefix, req.suffix, others))  # as the server
                last = files
                ctx_ms.append((time.perf_counter() - t1) * 1000)
                req = request(i, files)
            if label == "context_unmemoized":
                _forget_rendering(engine)
            got = raw = engine.complete(req)
            t2 = time.perf_counter()
            if with_context:
                ctext = "".join(c for _, c in req.context)
                got = [c for c in got if gate.decide(c.text, c.confidence, req.prefix, req.suffix, threshold,
                                                     context=ctext, logprobs=c.logprobs,
                                                     stop_reason=c.stop_reason).show]
            ms.append((time.perf_counter() - t0) * 1000)
            pt = parts[label]
            pt["gate_ms"].append((time.perf_counter() - t2) * 1000)
            if raw:  # the engine's own split, gated or not
                tm = raw[0].timings
                pt["prefill_ms"].append(tm.prefill_ms)
                pt["decode_ms"].append(tm.decode_ms)
                pt["new_tokens"].append(tm.prompt_tokens - tm.cached_tokens)
                pt["prompt_tokens"].append(tm.prompt_tokens)
                pt["generated"].append(tm.generated_tokens)
                if tm.generated_tokens:
                    pt["ms_per_token"].append(tm.decode_ms / tm.generated_tokens)
            if label == "context_unmemoized":
                _forget_rendering(engine)
            b = _build_ms(engine, req)
            if b is not None:
                pt["build_ms"].append(b)
            shown_list.append(bool(got))
            if got:
                tokens.append(got[0].timings.prompt_tokens)
    for label, (ms, shown_list, ctx_ms, tokens) in runs.items():
        out[label] = _stats(ms) | {"shown_rate": sum(shown_list) / len(ms),
                                   "prompt_tokens_mean": statistics.mean(tokens) if tokens else 0}
        if ctx_ms:
            out[label]["selection_ms_p50"] = statistics.median(ctx_ms)
        out[label]["parts_p50"] = {k: _med(v) for k, v in parts[label].items()}
    out["added_p50_ms"] = out["context"]["p50_ms"] - out["plain"]["p50_ms"]
    if unmemoized:
        out["added_p50_ms_unmemoized"] = out["context_unmemoized"]["p50_ms"] - out["plain"]["p50_ms"]

    # A context change: a new file opens whose definitions the cursor's line uses.
    i = len(typed)
    before = retrieval.select(request(i).prefix, suffix, others)
    engine.complete(request(i, before))  # warm at this cursor
    after = retrieval.select(request(i).prefix + "\n    return clamp_all(", suffix,
                             others + [("ranges.py", NEW_FILE)])
    req = CompletionRequest(prefix=request(i).prefix + "\n    return clamp_all(", suffix=suffix, mode="single",
                            max_tokens=16, path="stats.py", repo_path="stats.py", repo_name="examples", context=after)
    t0 = time.perf_counter()
    got = engine.complete(req)
    out["context_change"] = {"ms": (time.perf_counter() - t0) * 1000,
                             "prompt_tokens": got[0].timings.prompt_tokens if got else None,
                             "cached_tokens": got[0].timings.cached_tokens if got else None,
                             "changed": before != after}

    # Alternatives at a warm cursor: N candidates against one.
    files = retrieval.select(request(i).prefix, suffix, others)
    engine.complete(request(i, files))
    one, many = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        engine.complete(request(i, files))
        one.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        got = engine.complete(request(i, files, n=alternatives))
        many.append((time.perf_counter() - t0) * 1000)
    out["alternatives"] = {"n": alternatives, "one_ms": statistics.median(one), "n_ms": statistics.median(many),
                           "candidates": len(got)}
    return out


def print_table(r: dict) -> None:
    p, c = r["plain"], r["context"]
    print(f"{'keystrokes':12} {'p50 ms':>8} {'p90 ms':>8} {'shown':>6} {'prompt tok':>11}")
    rows = [("plain", p), ("context+gate", c)] + ([("unmemoized", r["context_unmemoized"])] if "context_unmemoized" in r else [])
    for k, v in rows:
        print(f"{k:12} {v['p50_ms']:8.0f} {v['p90_ms']:8.0f} {v['shown_rate']:6.0%} {v['prompt_tokens_mean']:11.0f}")
    print(f"added to warm keystroke p50: {r['added_p50_ms']:+.0f} ms (selection p50 {c.get('selection_ms_p50', 0):.1f} ms)")
    print(f"{'p50 parts':12} " + " ".join(f"{k:>12}" for k in p.get("parts_p50", {})))
    for k, v in rows:
        if "parts_p50" in v:
            print(f"{k:12} " + " ".join(f"{x:12.1f}" for x in v["parts_p50"].values()))
    cc = r["context_change"]
    print(f"context change (a new file opened): {cc['ms']:.0f} ms, {cc['cached_tokens']} of {cc['prompt_tokens']} "
          f"prompt tokens reused")
    a = r["alternatives"]
    print(f"explicit request, {a['n']} candidates: {a['n_ms']:.0f} ms against {a['one_ms']:.0f} ms for one "
          f"({a['candidates']} distinct)")
    if "index" in r:
        ix = r["index"]
        print(f"workspace index: {ix['files']} of {ix.get('workspace_files', '?')} files in {ix['scan_s']:.1f} s, ~{ix['memory_bytes'] / 1e6:.1f} MB "
              f"(tracemalloc peak {ix['tracemalloc_peak_bytes'] / 1e6:.1f} MB); bad input: {ix['bad_input']}")
