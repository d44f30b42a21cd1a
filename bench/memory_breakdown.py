"""Where the server's resident memory goes: the engine loaded as the server loads it, RSS after
each stage (and the peak within it), then the bytes of each tensor family kept alive.

    PYTHONPATH=$PWD python bench/memory_breakdown.py [--model default] [--requests 40]

Stages: import torch; import the engine (transformers); each loading step the engine reports
(finding, kernels, the HF load, the adapter merge, the fast path); the first completion; a
replay-like series (typing at several places of a 1,000+-line file, a narrowed request, a
background warm-up, a diagnostics score of a 6,000-character region, as the server does).
The peak within each stage comes from VmHWM, reset between stages through /proc/self/clear_refs.
"""

from __future__ import annotations

import argparse
import gc
import warnings
import os
import re
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def _status() -> dict[str, int]:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


ROWS: list[tuple[str, dict, float]] = []


def stage(name: str) -> None:
    """Close a stage: its RSS now and its peak, then start the next one's peak from here."""
    ROWS.append((name, _status(), time.perf_counter() - T0))
    _reset_peak()


def mib(n: float) -> str:
    return f"{n / 2**20:8.1f}"


def _storage(t) -> tuple[int, int]:
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def families(engine) -> tuple[dict[str, int], set[int]]:
    """Bytes per family of tensors the engine holds, and the storages counted."""
    import torch

    out: dict[str, int] = {}
    seen: set[int] = set()

    def add(family: str, t) -> None:
        if t is None or not isinstance(t, torch.Tensor):
            return
        ptr, n = _storage(t)
        if ptr in seen or n == 0:
            return
        seen.add(ptr)
        out[family] = out.get(family, 0) + n

    bb = engine.backbone
    if hasattr(bb, "layers"):  # FastLlama
        for L in bb.layers:
            for key in ("wqkv", "wo", "w13", "w2"):
                q = L[key]
                group = "attention" if key in ("wqkv", "wo") else "mlp"
                for role, form in (("decode", q.decode), ("prefill", q.prefill)):
                    add(f"{group} {role} {form.kind}", form.q)
                    add(f"{group} {role} {form.kind} (scales)", form.params)
                add(f"{group} biases", q.bias)
            add("norms", L["ln1"])
            add("norms", L["ln2"])
        for role, form in (("decode", bb.lm_head.decode), ("prefill", bb.lm_head.prefill)):
            add(f"lm_head {role} {form.kind}", form.q)
            add(f"lm_head {role} {form.kind} (scales)", form.params)
        add(f"embedding {str(bb.embed.dtype).removeprefix('torch.')}", bb.embed)
        add("norms", bb.norm)
        add("rotary cos/sin", bb.cos)
        add("rotary cos/sin", bb.sin)
    else:  # HFBackbone
        for p in bb.model.parameters():
            add(f"HF parameters {str(p.dtype).removeprefix('torch.')}", p)
    for name, slot in engine.decoder.slots.items():
        cache = slot.cache
        cap = getattr(cache, "capacity", None)
        for t in list(getattr(cache, "k", [])) + list(getattr(cache, "v", [])):
            add(f"KV slot {name!r} ({cap} tokens)", t)
    return out, seen


def other_tensors(seen: set[int]) -> tuple[int, int]:
    """Tensors alive that the engine does not hold: (count, bytes)."""
    import torch

    count = total = 0
    ptrs = set(seen)
    for obj in gc.get_objects():
        try:
            if not isinstance(obj, torch.Tensor):
                continue
            ptr, n = _storage(obj)
        except Exception:  # noqa: BLE001 - meta tensors, half-built objects
            continue
        if ptr in ptrs or n == 0:
            continue
        ptrs.add(ptr)
        count += 1
        total += n
    return count, total


def live_models() -> list[str]:
    """Hugging Face or peft modules still alive (there should be none once the fast path is built)."""
    import torch

    names = []
    for obj in gc.get_objects():
        try:
            # Whole models only: transformers keeps activation modules (GELU, SiLU) as singletons.
            if isinstance(obj, torch.nn.Module) and type(obj).__module__.startswith(("transformers", "peft")) \
                    and hasattr(obj, "config"):
                names.append(type(obj).__name__)
        except Exception:  # noqa: BLE001
            continue
    return names


def replay_requests(path: Path, n: int, seed: int):
    """Typing at several places of `path`: each place is jumped to, then typed into one character
    at a time (the prefix grows, the suffix stays), as bench/replay.py does through the server."""
    import random

    from model.types import CompletionRequest

    text = path.read_text()
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("def ") and i > 50]
    rng = random.Random(seed)
    places = rng.sample(starts, 7)
    per = max(1, n // len(places))
    out = []
    for line_no in places:
        body = line_no + 2
        cut = sum(len(x) for x in lines[:body])
        target = lines[body]
        indent = len(target) - len(target.lstrip())
        for k in range(per):
            typed = target[indent : indent + 1 + k]
            prefix = text[:cut] + target[:indent] + typed
            suffix = target[indent + len(typed):] + "".join(lines[body + 1:])
            out.append(CompletionRequest(prefix=prefix, suffix=suffix, path=str(path), time_budget_ms=1500.0))
        if len(out) >= n:
            break
    return out[:n], text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--requests", type=int, default=40, help="completions in the replay-like series")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file", default=None, help="a Python file of > 1,000 lines (default: argparse.py)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    peak_ok = _reset_peak()
    stage("python started")
    import torch

    stage("import torch")
    from model.config import EngineConfig
    from model.kernels import cpu_features
    from model.local import LocalEngine
    from model.types import CancelToken

    stage("import the engine")
    last = ["loading"]

    def progress(msg: str, frac) -> None:
        stage(last[0])
        last[0] = msg

    engine = LocalEngine.load(EngineConfig(model=args.model), progress=progress)
    stage(last[0])
    import argparse as _argparse_module

    path = Path(args.file) if args.file else Path(_argparse_module.__file__)
    requests, text = replay_requests(path, args.requests, args.seed)
    engine.complete(requests[0], CancelToken())
    stage("first completion")
    for i, req in enumerate(requests[1:], 1):
        engine.complete(req, CancelToken())
        if i % 8 == 0:  # the server warms the full window in the background and scores edits
            engine.warm(req, CancelToken())
            mid = len(req.prefix)
            engine.score(text[max(0, mid - 3000): mid + 3000], CancelToken())
    stage(f"replay-like series ({len(requests)} completions, warm-ups, diagnostics scores)")
    gc.collect()
    import ctypes

    ctypes.CDLL("libc.so.6").malloc_trim(0)  # inline, so the bench also runs on trees without model/memory.py
    stage("after malloc_trim (what the heap held freed)")

    print(f"CPU: {cpu_features()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"engine: {engine.info.name}, {engine.backbone.plan.describe() if hasattr(engine.backbone, 'plan') else 'HF'}"
          f", context {engine.info.context_length}")
    print(f"file: {path}; {len(requests)} requests, seed {args.seed}")
    note = "" if peak_ok else " (clear_refs refused: peak is the running maximum)"
    print(f"\n{'stage':<60} {'RSS MiB':>8} {'peak MiB':>8} {'anon':>8} {'file':>8}  at s{note}")
    for name, st, t in ROWS:
        print(f"{name[:60]:<60} {mib(st['VmRSS'])} {mib(st['VmHWM'])} {mib(st['RssAnon'])} {mib(st['RssFile'])}  {t:5.1f}")
    print(f"peak over all stages: {max(st['VmHWM'] for _, st, _ in ROWS) / 2**20:.1f} MiB")

    fam, seen = families(engine)
    count, other = other_tensors(seen)
    print(f"\n{'tensor family kept alive':<60} {'MiB':>8}")
    for name, n in sorted(fam.items(), key=lambda kv: -kv[1]):
        print(f"{name[:60]:<60} {mib(n)}")
    print(f"{'(tensors not held by the engine: ' + str(count) + ')':<60} {mib(other)}")
    print(f"{'total tensors':<60} {mib(sum(fam.values()) + other)}")
    models = live_models()
    print(f"Hugging Face / peft models alive: {', '.join(sorted(set(models))) or 'none'}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
