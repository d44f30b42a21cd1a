"""Which kernels this CPU runs fastest, for this model: chosen at load by a short micro-benchmark
of the model's own matrix shapes, cached per machine and model in the cache folder.

Measured here (2-core AMD EPYC, torch 2.13, one 3072x576 matrix, us per call):
| rows | CPU class | fp32 | bf16 | int8 | int4 |
| --- | --- | --- | --- | --- | --- |
| 1 | AVX-512 + avx512_bf16 | 199 | 205 | 67 | 66 |
| 128 | AVX-512 + avx512_bf16 | 3464 | 3349 | 4047 | 3423 |
| 1 | AVX2 (ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2) | 214 | 185 | 122 | 130 |
| 128 | AVX2 | 5625 | 18935 | 5732 | 6513 |
and one decode step's attention over 300 cached tokens took 274 us in bf16 against 60 us in
fp32 even with avx512_bf16. So no fixed rule is right everywhere: a dense bf16 copy for prefill
paid on the AMX machine the engine was first tuned on, costs memory for nothing on these, and
bf16 activations slow attention down. Hence a measurement per machine.

Prefill has a third arrangement besides the decode form and a second, dense copy: "int4dq", the
int4 form unpacked into a bf16 scratch matrix per call (model/quant.py), in chunks of
DEQUANT_CHUNK rows. The measurement times it too, and the choice among the three is the fastest
per row whose projected resident size (model/budget.py) fits the memory budget; the timings are
cached, the budget applied when the plan is read, so changing the budget measures nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.budget import Shapes, projected_mb
from model.paths import wingman_home
from model.quant import (DEQUANT_CHUNK, GROUP, dequant_supported, dequantize_int4_t, int4_supported,
                         quantize_int4, quantize_int8)

log = logging.getLogger(__name__)

PLAN_VERSION = 2  # 2: int4dq timed, the budget applied on reading. Bump when the candidates or the rule change: old cached plans are ignored
DECODE_ROWS, PREFILL_ROWS = 1, 128
DENSE_MARGIN = 1.25  # a dense copy for prefill is kept only when it is this much faster
DEQUANT_MARGIN = 1.1  # unpacking is chosen over the int4 kernel only when this much faster (noise)


@dataclass(frozen=True)
class KernelPlan:
    act: str  # dtype of activations, norms, attention and the KV cache: "float32" | "bfloat16"
    decode: str  # the weights' form for one-row steps: "int4" | "int8" | "bf16" | "fp32"
    prefill: str  # for many rows; a dense form other than `decode` means a second copy of the weights;
    # "int4dq": no copy, the int4 form unpacked per call
    source: str = "measured"  # "measured" | "cached" | "fixed" (settings left no choice)
    timings_us: dict | None = None  # what was measured, for `wingman bench`
    why: str = ""  # how the prefill arrangement was chosen, for the log

    @property
    def prefill_chunk(self) -> int:
        """Rows per prefill step: unpacking pays for itself only over many rows."""
        return DEQUANT_CHUNK if self.prefill == "int4dq" else 128

    @property
    def act_dtype(self) -> torch.dtype:
        return torch.float32 if self.act == "float32" else torch.bfloat16

    def describe(self) -> str:
        dense = "" if self.prefill == self.decode else f", prefill {self.prefill}"
        return f"decode {self.decode}{dense}, activations {self.act} ({self.source})"


FORMS = ("int4", "int8", "bf16", "fp32")


def parse_plan(text: str) -> KernelPlan:
    """"int4/bf16/bfloat16": decode form / prefill form / activation dtype, fixed by hand
    (prefill "int4dq" only with decode int4)."""
    parts = text.split("/")
    if len(parts) != 3 or parts[0] not in FORMS or parts[1] not in (*FORMS, "int4dq") \
            or parts[2] not in ("float32", "bfloat16") or (parts[1] == "int4dq" and parts[0] != "int4"):
        raise ValueError(f"kernels must be auto or DECODE/PREFILL/ACTIVATIONS with forms from {', '.join(FORMS)} "
                         f"(prefill also int4dq, after int4) and activations float32 or bfloat16 "
                         f"(e.g. int4/bf16/bfloat16), not {text!r}")
    return KernelPlan(act=parts[2], decode=parts[0], prefill=parts[1], source="fixed")


def cpu_signature() -> str:
    """What makes kernels run differently: the CPU model and ISA flags, torch and its dispatch."""
    flags, model = "", platform.processor()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags") and not flags:
                keep = ("avx2", "avx512", "amx", "avx_vnni", "fma", "f16c")
                flags = " ".join(sorted(f for f in line.split(":", 1)[1].split() if f.startswith(keep)))
            elif line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    env = " ".join(f"{k}={os.environ.get(k, '')}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"))
    return f"{model}|{flags}|torch {torch.__version__}|{torch.backends.cpu.get_cpu_capability()}|{env}|" \
           f"threads {torch.get_num_threads()}"


def cpu_features() -> str:
    """The ISA flags that matter, for every printed figure."""
    sig = cpu_signature().split("|")
    return f"{sig[0]}: {sig[1] or 'no AVX2'} (torch dispatch {sig[3]})"


def _race(fns: dict, budget_s: float = 0.3, rounds: int = 40) -> dict:
    """Microseconds per call of each function: interleaved rounds, the fastest round of each.
    Other work on the machine slows every candidate of a round alike, and the minimum is what
    the kernel costs when it gets the cores, so a busy machine still ranks them right."""
    for f in fns.values():
        for _ in range(3):  # first calls pay for packing, page faults and waking the thread pool
            f()
    best = {name: float("inf") for name in fns}
    start = time.perf_counter()
    for r in range(rounds):
        for name, f in fns.items():
            t = time.perf_counter()
            f()
            best[name] = min(best[name], time.perf_counter() - t)
        if r >= 4 and time.perf_counter() - start > budget_s:
            break
    return {name: round(v * 1e6, 1) for name, v in best.items()}


def _candidates(weight: torch.Tensor, allowed: tuple[str, ...], bf16_ok: bool) -> dict:
    """The matrix in each allowed form, as a function of x (rows, K) in float32."""
    out = {}
    if "fp32" in allowed:
        w = weight.float()
        out["fp32"] = lambda x: F.linear(x, w)
    if "bf16" in allowed and bf16_ok:
        wb = weight.to(torch.bfloat16)
        out["bf16"] = lambda x: F.linear(x.to(torch.bfloat16), wb)
    if "int8" in allowed:
        q8, s8 = quantize_int8(weight)
        out["int8"] = lambda x: torch._weight_int8pack_mm(x.to(torch.bfloat16), q8, s8)
    if "int4" in allowed and int4_supported(weight):
        q4, s4 = quantize_int4(weight)
        out["int4"] = lambda x: torch.ops.aten._weight_int4pack_mm_for_cpu(x.to(torch.bfloat16), q4, GROUP, s4)
        if bf16_ok and dequant_supported(weight):
            n, k = weight.shape
            out["int4dq"] = lambda x: F.linear(x.to(torch.bfloat16), dequantize_int4_t(q4, s4, n, k).t())
    return out


def _attention(dtype: torch.dtype, heads: int, kv_heads: int, head_dim: int, context: int = 300):
    q = torch.randn(1, heads, 1, head_dim, dtype=dtype)
    k = torch.randn(1, kv_heads, context, head_dim, dtype=dtype)
    v = torch.randn(1, kv_heads, context, head_dim, dtype=dtype)
    return lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=heads != kv_heads)


def _allowed(quantize: str, act: str | None) -> tuple[str, ...]:
    """The decode forms the settings admit: "auto" lets the measurement choose; "none" means
    dense weights, in the precision of `dtype` when that is fixed."""
    dense = {"float32": ("fp32",), "bfloat16": ("bf16",)}.get(act or "", ("bf16", "fp32"))
    return {"auto": ("int4", "int8", *dense), "int4": ("int4",), "int8": ("int8",), "none": dense}[quantize]


def measure(weight: torch.Tensor, quantize: str, act: str | None, heads: int, kv_heads: int, head_dim: int) -> dict:
    """The timings the plan is decided from (decide): each form at one row and at a prefill
    chunk, the unpacking and the int4 kernel also at DEQUANT_CHUNK rows, attention per dtype."""
    bf16_ok = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    allowed = _allowed(quantize, act)
    if not bf16_ok and allowed == ("bf16",):
        allowed = ("fp32",)  # no bf16 kernels here: the dense form it can run
    forms = _candidates(weight, tuple({*allowed, "fp32", "bf16"}), bf16_ok)
    timings: dict = {"allowed": list(allowed)}
    for rows, label, names in ((DECODE_ROWS, "decode", [n for n in forms if n != "int4dq"]),
                               (PREFILL_ROWS, "prefill", [n for n in forms if n != "int4dq"]),
                               (DEQUANT_CHUNK, "chunk", [n for n in forms if n in ("int4", "int4dq")])):
        if names:
            x = torch.randn(rows, weight.shape[1])
            timings[label] = _race({name: (lambda f=forms[name]: f(x)) for name in names})
    if act is None:
        dtypes = {"float32": torch.float32, **({"bfloat16": torch.bfloat16} if bf16_ok else {})}
        timings["attention"] = _race({n: _attention(dt, heads, kv_heads, head_dim) for n, dt in dtypes.items()}, 0.1)
    return timings


def decide(timings: dict, act: str | None, shapes: Shapes | None, budget_mb: float, source: str) -> KernelPlan:
    """The fastest decode form; for prefill, the fastest per row of the decode form, a dense copy
    (DENSE_MARGIN faster) and, after int4, unpacking (DEQUANT_MARGIN faster), among those whose
    projected resident size fits `budget_mb` (0: no budget). None fits: the smallest."""
    allowed = timings["allowed"]
    decode = min((n for n in timings["decode"] if n in allowed), key=timings["decode"].get)
    pre = timings["prefill"]
    per_row = {decode: pre[decode] / PREFILL_ROWS}
    best = min(pre, key=pre.get)
    if best != decode and pre[best] * DENSE_MARGIN < pre[decode]:
        per_row[best] = pre[best] / PREFILL_ROWS  # worth a second copy of the weights, memory allowing
    chunk = timings.get("chunk", {})
    if decode == "int4" and "int4dq" in chunk and chunk["int4dq"] * DEQUANT_MARGIN < chunk["int4"]:
        per_row["int4dq"] = chunk["int4dq"] / DEQUANT_CHUNK
    ranked = sorted(per_row, key=per_row.get)
    sizes = {p: projected_mb(shapes, decode, p) for p in ranked} if shapes is not None else {}
    fits = [p for p in ranked if not budget_mb or not sizes or sizes[p] <= budget_mb]
    prefill = fits[0] if fits else min(ranked, key=sizes.get)
    why = f"prefill {prefill}: {per_row[prefill]:.1f} us per row"
    if sizes:
        why += f", ~{sizes[prefill]:.0f} MB projected"
        skipped = [p for p in ranked[: ranked.index(prefill)]]
        if skipped:
            why += "; " + ", ".join(f"{p} ({per_row[p]:.1f} us per row) would be ~{sizes[p]:.0f} MB" for p in skipped)
        why += f", budget {budget_mb:.0f} MB" if budget_mb else ", no budget"
        if not fits:
            why += " (nothing fits: the smallest)"
    if act is None:
        act = min(timings["attention"], key=timings["attention"].get)
    return KernelPlan(act=act, decode=decode, prefill=prefill, source=source, timings_us=timings, why=why)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0


def rule(quantize: str, act: str | None) -> KernelPlan:
    """What the measurements in this file's docstring support on both CPU classes: the smallest
    form that the settings allow for decode and for prefill alike (no second copy), fp32 activations."""
    allowed = _allowed(quantize, act)
    if allowed == ("bf16",) and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        allowed = ("fp32",)
    form = allowed[0]
    return KernelPlan(act=act or "float32", decode=form, prefill=form, source="rule")


def _cache_path(key: str):
    return wingman_home() / "kernels" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def choose(weight: torch.Tensor, quantize: str = "auto", dtype: str = "auto", heads: int = 1, kv_heads: int = 1,
           head_dim: int = 64, shapes: Shapes | None = None, budget_mb: float = 0) -> KernelPlan:
    """The plan for a model whose typical matrix is `weight` (the fused gate/up of a layer), of
    `shapes` (for the budget; None: no projection) within `budget_mb` MB (0: none).

    `dtype` "float32"/"bfloat16" fixes the activations; "auto" measures. Cached timings for the
    same machine, torch, shapes and settings are reused; corrupt or stale ones are measured again."""
    act = None if dtype == "auto" else ("bfloat16" if dtype in ("bfloat16", "float16") else "float32")
    key = json.dumps({"v": PLAN_VERSION, "cpu": cpu_signature(), "shape": list(weight.shape), "quantize": quantize,
                      "act": act, "heads": [heads, kv_heads, head_dim]}, sort_keys=True)
    path = _cache_path(key)
    load = _load()
    try:
        cached = json.loads(path.read_text())
        # A plan measured while the machine was overloaded is measured again once it is not.
        calm = cached.get("load", 0) <= _cores() or load > _cores()
        if cached.get("key") == key and calm:
            plan = decide(cached["timings"], act, shapes, budget_mb, "cached")
            if plan.decode in _allowed(quantize, act) or plan.decode == "fp32":
                log.info("kernel plan: %s; %s", plan.describe(), plan.why)
                return plan
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass  # no cache, or a corrupt or stale one: measure again
    if load > _cores():
        # Measured while other work holds the cores, the ranking is noise (a descheduled thread
        # turned a 0.3 ms int4 call into 15 ms here, and the plan chose dense fp32 for a 0.5B
        # model). Use the rule the quiet measurements support, cache nothing, measure next time.
        plan = rule(quantize, act)
        log.info("kernel plan: %s (the machine is busy: load %.1f on %d cores)", plan.describe(), load, _cores())
        return plan
    t0 = time.perf_counter()
    timings = measure(weight, quantize, act, heads, kv_heads, head_dim)
    plan = decide(timings, act, shapes, budget_mb, "measured")
    log.info("kernel plan: %s (measured in %.1f s on %s); %s", plan.describe(), time.perf_counter() - t0,
             cpu_features(), plan.why)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": key, "timings": timings, "load": load}, indent=1))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not cache the kernel plan in %s: %s", path, exc)
    return plan
