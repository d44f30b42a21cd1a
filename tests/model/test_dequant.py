"""Prefill by unpacking the int4 form (model/quant.py "int4dq") against the kernels it replaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

from model import quant
from model.kernels import KernelPlan
from model.llama import FastLlama
from model.quant import GROUP, QLinear, dequantize_int4_t, quantize_int4

pytestmark = pytest.mark.skipif(quant.int4_block() is None, reason="this torch packs int4 in a layout we do not know")


def test_unpacking_gives_the_weights_the_int4_kernel_multiplies_by():
    torch.manual_seed(0)
    n, k = 192, 128
    q, sz = quantize_int4(torch.randn(n, k) * 0.02)
    # The kernel times the identity is its own dequantized W.T, in bf16.
    ref = torch.ops.aten._weight_int4pack_mm_for_cpu(torch.eye(k, dtype=torch.bfloat16), q, GROUP, sz).float()
    got = dequantize_int4_t(q, sz, n, k).float()
    assert got.shape == (k, n)
    assert (got - ref).abs().max() <= 2 ** -8 * ref.abs().max()  # at most bf16 rounding apart


def test_the_scratch_is_one_buffer_reused_across_shapes():
    torch.manual_seed(0)
    big = quantize_int4(torch.randn(256, 128))
    small = quantize_int4(torch.randn(64, 64))
    a = dequantize_int4_t(*big, 256, 128)
    b = dequantize_int4_t(*small, 64, 64)
    assert a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def test_many_rows_unpack_and_few_use_the_int4_kernel():
    torch.manual_seed(0)
    w = torch.randn(256, 128) * 0.02
    dq = QLinear(w, None, "int4", "int4dq", torch.float32)
    plain = QLinear(w, None, "int4", "int4", torch.float32)
    assert dq.dequant and dq.prefill is dq.decode and dq.nbytes == plain.nbytes  # no second copy
    many = torch.randn(quant.DEQUANT_ROWS, 128)
    ref = F.linear(many, w)
    err_dq, err_int4 = (dq(many) - ref).abs().max(), (plain(many) - ref).abs().max()
    assert err_dq < 1.5 * err_int4 + 1e-3 * ref.abs().max()  # int4's error, plus bf16 activations' rounding
    assert (dq(many) - plain(many)).abs().max() < 0.02 * ref.abs().max()
    few = torch.randn(quant.DEQUANT_ROWS - 1, 128)
    assert torch.equal(dq(few), plain(few))  # below the threshold: the very same kernel


@pytest.fixture(scope="module")
def hf(tiny_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()


def test_a_model_prefilled_by_unpacking_matches_the_dense_copy(hf):
    """The same prompt through int4/int4dq and int4/bf16 (the second copy it replaces): the logits
    agree within int4 tolerance, and the tied head's bf16 form is the embedding table."""
    torch.manual_seed(0)
    ids = torch.randint(0, 400, (1, 300))
    plans = {p: KernelPlan(act="float32", decode="int4", prefill=p, source="fixed") for p in ("int4dq", "bf16")}
    models = {p: FastLlama(hf, plan, 512) for p, plan in plans.items()}
    dq = models["int4dq"]
    assert dq.prefill_chunk == quant.DEQUANT_CHUNK and models["bf16"].prefill_chunk == 128
    assert all(L["w13"].dequant for L in dq.layers)
    assert dq.lm_head.prefill.q.data_ptr() == dq.embed.data_ptr()
    assert dq.weight_bytes < models["bf16"].weight_bytes
    out = {p: m.forward(ids, m.new_cache(), 0, last_only=False) for p, m in models.items()}
    ref = hf(ids).logits
    scale = ref.abs().max()
    assert (out["int4dq"] - out["bf16"]).abs().max() < 0.3 * scale
    assert (out["int4dq"] - ref).abs().max() < 0.3 * scale
    assert (out["int4dq"].argmax(-1) == out["bf16"].argmax(-1)).float().mean() > 0.9
