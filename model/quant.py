"""Weight-only quantized linear layers for CPU decoding.

Measured here (one 1536x576 matrix, 1 thread, best of 5): a single row takes ~60 us with the
int4/int8 kernels against ~125 us bf16 and ~160 us fp32, but 128 rows take 4-6 ms with them
against 0.8 ms bf16. So decoding (one row) uses the packed kernel, and prefill (many rows) a
dense bf16 copy when memory allows it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

GROUP = 32  # the base weights arrive as GGUF Q4_1: 4 bits, groups of 32, scale and minimum
DECODE_ROWS = 8  # at most this many rows take the packed kernel


def quantize_int4(w: torch.Tensor, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric 4-bit groups in the tinygemm layout: w ~ (q - 8) * scale + zero."""
    n, k = w.shape
    wg = w.float().reshape(n, k // group, group)
    hi, lo = wg.amax(-1, keepdim=True), wg.amin(-1, keepdim=True)
    scale = (hi - lo).clamp(min=1e-6) / 15
    zero = lo + scale * 8
    q = ((wg - lo) / scale).round().clamp(0, 15).to(torch.int32).reshape(n, k)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 2)
    scales_zeros = torch.cat([scale.reshape(n, -1, 1), zero.reshape(n, -1, 1)], 2).transpose(0, 1).contiguous()
    return packed, scales_zeros.to(torch.bfloat16)


def quantize_int8(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel 8 bits."""
    scale = w.float().abs().amax(1).clamp(min=1e-8) / 127
    q = (w.float() / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q, scale.to(torch.bfloat16)


def int4_supported(w: torch.Tensor) -> bool:
    n, k = w.shape  # the packing kernel's own requirements
    return n % 16 == 0 and k % (GROUP * 2) == 0


class QLinear(nn.Module):
    """y = x @ W.T + b, with W kept in whichever forms the chosen mode needs."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, mode: str, dtype: torch.dtype,
                 keep_dense: bool = True) -> None:
        super().__init__()
        self.out_features, self.in_features = weight.shape
        if mode == "int4" and not int4_supported(weight):
            mode = "int8"
        self.mode = mode
        self.dtype = dtype
        self.bias = bias.to(dtype) if bias is not None else None
        self.dense = weight.to(dtype) if (mode == "none" or keep_dense) else None
        self.q = self.qparams = None
        if mode == "int4":
            self.q, self.qparams = quantize_int4(weight)
        elif mode == "int8":
            self.q, self.qparams = quantize_int8(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, self.in_features)
        if self.q is not None and (x2.shape[0] <= DECODE_ROWS or self.dense is None):
            x2 = x2.to(torch.bfloat16)
            if self.mode == "int4":
                y = torch.ops.aten._weight_int4pack_mm_for_cpu(x2, self.q, GROUP, self.qparams)
            else:
                y = torch._weight_int8pack_mm(x2, self.q, self.qparams)
            y = y.to(self.dtype)
        else:
            y = F.linear(x2.to(self.dtype), self.dense)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features)
