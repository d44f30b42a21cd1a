"""Linear layers in the forms the kernel plan (model/kernels.py) chose for this machine.

Weight-only quantization: int4 (groups of 32 with zero points, the tinygemm layout; the base
weights arrive as GGUF Q4_1, which it holds almost exactly) or int8 (per output channel), or a
dense copy in bf16 or fp32. One-row decode steps and many-row prefills may use different forms;
a second form costs a second copy of the weights, so the plan keeps one only where it pays.
The third way, "int4dq", keeps only the int4 form and, for a prefill of many rows, unpacks each
matrix into one reusable bf16 scratch buffer just before its dense matmul: the speed of most of
a dense copy for the memory of one matrix (bench/memory-2026-12-02b).
"""

from __future__ import annotations

import threading
from functools import cache

import torch
import torch.nn.functional as F
from torch import nn

GROUP = 32  # the base weights arrive as GGUF Q4_1: 4 bits, groups of 32, scale and minimum
DECODE_ROWS = 8  # at most this many rows (a decode step and its draft tokens) take the decode form
# Rows quantized at a time: a 49k-row head in one go held ~4 fp32 copies of it at once. A multiple
# of 64, the int4 packing's block of rows (blocks of 16 or 32 pack differently from one call).
CHUNK_ROWS = 4096
# Rows from which "int4dq" unpacks rather than multiplying by the int4 form: unpacking the 3072x576
# matrix took as long as a 128-row int4 matmul saves against bf16 here (1.2 ms), so below this the
# int4 kernel is faster; FastLlama prefills such plans in chunks of DEQUANT_CHUNK to amortize it.
DEQUANT_ROWS = 128
DEQUANT_CHUNK = 512


def _by_rows(fn, w: torch.Tensor, params_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """fn over blocks of rows, joined: every row is quantized on its own, so the result is the
    same as in one call, with the temporaries of one block alive at a time."""
    if w.shape[0] <= CHUNK_ROWS:
        return fn(w)
    parts = [fn(w[i: i + CHUNK_ROWS]) for i in range(0, w.shape[0], CHUNK_ROWS)]
    return torch.cat([q for q, _ in parts]), torch.cat([p for _, p in parts], params_dim)


def quantize_int4(w: torch.Tensor, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric 4-bit groups in the tinygemm layout: w ~ (q - 8) * scale + zero."""
    return _by_rows(lambda rows: _int4(rows, group), w, 1)


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel 8 bits."""
    return _by_rows(_int8, w, 0)


def _int4(w: torch.Tensor, group: int) -> tuple[torch.Tensor, torch.Tensor]:
    n, k = w.shape
    wg = w.float().reshape(n, k // group, group)
    hi, lo = wg.amax(-1, keepdim=True), wg.amin(-1, keepdim=True)
    scale = (hi - lo).clamp(min=1e-6) / 15
    zero = lo + scale * 8
    q = ((wg - lo) / scale).round().clamp(0, 15).to(torch.int32).reshape(n, k)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)
    scales_zeros = torch.cat([scale.reshape(n, -1, 1), zero.reshape(n, -1, 1)], 2).transpose(0, 1).contiguous()
    return packed, scales_zeros.to(torch.bfloat16)


def _int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = w.float().abs().amax(1).clamp(min=1e-8) / 127
    q = (w.float() / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q, scale.to(torch.bfloat16)


def int4_supported(w: torch.Tensor) -> bool:
    n, k = w.shape  # the packing kernel's own requirements
    return n % 16 == 0 and k % (GROUP * 2) == 0


@cache
def int4_block() -> int | None:
    """Rows per block of the CPU int4 packing (torch's weight_to_int4pack kernel: 64 under AVX-512,
    32 under AVX2; in each block, byte (k, j) holds row j in its low nibble and row j + block/2 in
    its high one). Found by packing a probe, since the layout is torch's private choice: None when
    neither layout reproduces it (another torch), and then "int4dq" is not offered."""
    q = torch.randint(0, 16, (128, 64), dtype=torch.int32, generator=torch.Generator().manual_seed(0))
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)
    for block in (64, 32):
        b = packed.reshape(128 // block, 64, block // 2)
        if torch.equal(torch.cat([b & 15, b >> 4], -1).transpose(1, 2).reshape(128, 64).int(), q):
            return block
    return None


_scratch = threading.local()  # per thread: the buffers are written in place


def _buffer(name: str, numel: int, dtype: torch.dtype) -> torch.Tensor:
    """One buffer per thread, grown to the largest matrix and reused for every other: the peak
    grows by one matrix, and a steady buffer costs no page faults per call."""
    buf = getattr(_scratch, name, None)
    if buf is None or buf.numel() < numel:
        buf = torch.empty(numel, dtype=dtype)
        setattr(_scratch, name, buf)
    return buf[:numel]


def dequantize_int4_t(packed: torch.Tensor, scales_zeros: torch.Tensor, n: int, k: int) -> torch.Tensor:
    """W.T (k, n) in bf16 from the int4 form, into the scratch buffer (valid until the next call):
    w = q * scale + (zero - 8 * scale), computed in fp32 and rounded once, which is the weight the
    int4 kernel multiplies by, rounded to bf16. Transposed because the packing keeps each block's
    rows contiguous along n for one k, and scales_zeros is (k / GROUP, n, 2): both then broadcast
    without strided copies (twice as fast as unpacking W itself)."""
    block = int4_block()
    nibbles = _buffer("nibbles", k * n, torch.uint8).view(k, n // block, block)
    b = packed.view(n // block, k, block // 2).transpose(0, 1)  # (k, blocks, block / 2)
    torch.bitwise_and(b, 15, out=nibbles[:, :, : block // 2])
    torch.bitwise_right_shift(b, 4, out=nibbles[:, :, block // 2:])
    scale = scales_zeros[..., 0].float()  # (k / GROUP, n)
    offset = scales_zeros[..., 1].float() - 8 * scale
    out = _buffer("weights", k * n, torch.bfloat16).view(k // GROUP, GROUP, n)
    torch.addcmul(offset[:, None], nibbles.view(k // GROUP, GROUP, n), scale[:, None], out=out)
    return out.view(k, n)


def dequant_supported(w: torch.Tensor) -> bool:
    block = int4_block()
    return block is not None and int4_supported(w) and w.shape[0] % block == 0


class Form:
    """One stored form of a weight matrix, and how to multiply by it."""

    def __init__(self, weight: torch.Tensor, kind: str) -> None:
        if kind == "int4" and not int4_supported(weight):
            kind = "int8"
        self.kind = kind
        if kind == "int4":
            self.q, self.params = quantize_int4(weight)
        elif kind == "int8":
            self.q, self.params = quantize_int8(weight)
        else:
            self.q, self.params = weight.to(torch.bfloat16 if kind == "bf16" else torch.float32).contiguous(), None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "int4":
            return torch.ops.aten._weight_int4pack_mm_for_cpu(x.to(torch.bfloat16), self.q, GROUP, self.params)
        if self.kind == "int8":
            return torch._weight_int8pack_mm(x.to(torch.bfloat16), self.q, self.params)
        return F.linear(x.to(self.q.dtype), self.q)

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.q, self.params) if t is not None)


class QLinear(nn.Module):
    """y = x @ W.T + b, with W kept in the decode form and, only if different, the prefill form
    ("int4dq": none, the int4 form unpacked per call for DEQUANT_ROWS rows or more)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, decode: str, prefill: str,
                 dtype: torch.dtype) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.dtype = dtype
        self.bias = bias.to(dtype) if bias is not None else None
        self.dequant = prefill == "int4dq" and decode == "int4" and dequant_supported(weight)
        if prefill == "int4dq":
            prefill = decode  # a matrix the unpacking cannot take prefills in its decode form
        self.decode = Form(weight, decode)
        self.prefill = self.decode if prefill == self.decode.kind else Form(weight, prefill)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, self.in_features)
        rows = x2.shape[0]
        if self.dequant and rows >= DEQUANT_ROWS:
            wt = dequantize_int4_t(self.decode.q, self.decode.params, self.out_features, self.in_features)
            y = F.linear(x2.to(torch.bfloat16), wt.t()).to(self.dtype)
        else:
            y = (self.decode if rows <= DECODE_ROWS else self.prefill)(x2).to(self.dtype)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features)

    @property
    def nbytes(self) -> int:
        return self.decode.nbytes + (self.prefill.nbytes if self.prefill is not self.decode else 0)
