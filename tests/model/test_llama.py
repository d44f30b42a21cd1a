import pytest
import torch
from transformers import AutoModelForCausalLM

from model.kernels import KernelPlan
from model.llama import FastLlama, HFBackbone

FP32 = KernelPlan(act="float32", decode="fp32", prefill="fp32", source="fixed")


def plan(form: str, act: str = "bfloat16", prefill: str | None = None) -> KernelPlan:
    return KernelPlan(act=act, decode=form, prefill=prefill or form, source="fixed")


@pytest.fixture(scope="module")
def hf(tiny_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def ids():
    torch.manual_seed(0)
    return torch.randint(0, 400, (1, 24))


def test_matches_transformers_exactly_in_fp32(hf, ids):
    ref = hf(ids).logits
    m = FastLlama(hf, FP32, 128)
    out = m.forward(ids, m.new_cache(), 0, last_only=False)
    assert torch.allclose(out, ref, atol=1e-4)


@pytest.mark.parametrize("form,act,prefill,tol", [
    ("bf16", "bfloat16", None, 0.05), ("int8", "bfloat16", None, 0.1), ("int4", "bfloat16", None, 0.3),
    ("int4", "float32", None, 0.3), ("int4", "float32", "fp32", 0.3), ("int8", "float32", "bf16", 0.1)])
def test_incremental_decoding_with_cache_matches_full_pass(hf, ids, form, act, prefill, tol):
    """Prefill part, then one token at a time: the KV cache must give the same logits, whichever
    forms the plan chose for decoding and for prefill."""
    ref = hf(ids).logits
    m = FastLlama(hf, plan(form, act, prefill), 128)
    cache = m.new_cache()
    m.forward(ids[:, :10], cache, 0)
    steps = torch.cat([m.forward(ids[:, t : t + 1], cache, t) for t in range(10, 24)], 1)
    assert (steps - ref[:, 10:]).abs().max() < tol * ref.abs().max()
    assert (steps.argmax(-1) == ref[:, 10:].argmax(-1)).float().mean() > 0.7


def test_reusing_a_prefix_after_divergence(hf, ids):
    """Rewriting the cache from position 12 (a new suffix) gives fresh-computation logits."""
    m = FastLlama(hf, FP32, 128)
    cache = m.new_cache()
    m.forward(ids, cache, 0)
    other = ids.clone()
    other[:, 12:] = (other[:, 12:] + 5) % 400
    reused = m.forward(other[:, 12:], cache, 12, last_only=False)
    fresh = m.forward(other, m.new_cache(), 0, last_only=False)[:, 12:]
    assert torch.allclose(reused, fresh, atol=1e-4)


def test_overflowing_the_cache_is_an_error(hf):
    m = FastLlama(hf, FP32, 16)
    with pytest.raises(ValueError, match="exceeds the KV cache"):
        m.forward(torch.zeros(1, 17, dtype=torch.long), m.new_cache(), 0)


def test_hf_backbone_crops_its_cache(hf, ids):
    ref = hf(ids).logits
    b = HFBackbone(hf, 128)
    cache = b.new_cache()
    b.forward(ids, cache, 0)
    again = b.forward(ids[:, 8:], cache, 8, last_only=False)
    assert torch.allclose(again, ref[:, 8:], atol=1e-4)


def test_the_cache_grows_on_demand_and_keeps_what_it_held(hf, monkeypatch):
    """Caches start small (short prompts never pay for the model's whole context) and grow by
    copying: logits after growth equal those of a cache that was big from the start."""
    import model.llama as llama

    torch.manual_seed(1)
    long_ids = torch.randint(0, 400, (1, 40))
    big = FastLlama(hf, FP32, 128)
    ref = big.forward(long_ids, big.new_cache(), 0, last_only=False)
    monkeypatch.setattr(llama, "INITIAL_CACHE", 8)
    m = FastLlama(hf, FP32, 128)
    cache = m.new_cache()
    assert cache.capacity == 8
    out = [m.forward(long_ids[:, :5], cache, 0, last_only=False)]
    out += [m.forward(long_ids[:, t:t + 1], cache, t, last_only=False) for t in range(5, 40)]
    assert cache.capacity >= 40 and cache.k[0].shape[2] == cache.capacity
    assert torch.allclose(torch.cat(out, 1), ref, atol=1e-4)


def test_the_hf_model_is_left_intact_unless_consumed(hf, ids):
    before = hf(ids).logits
    FastLlama(hf, FP32, 32)
    assert torch.equal(hf(ids).logits, before)
