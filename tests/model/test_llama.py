import pytest
import torch
from transformers import AutoModelForCausalLM

from model.llama import FastLlama, HFBackbone


@pytest.fixture(scope="module")
def hf(tiny_dir):
    return AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def ids():
    torch.manual_seed(0)
    return torch.randint(0, 400, (1, 24))


def test_matches_transformers_exactly_in_fp32(hf, ids):
    ref = hf(ids).logits
    m = FastLlama(hf, "none", torch.float32, 128)
    out = m.forward(ids, m.new_cache(), 0, last_only=False)
    assert torch.allclose(out, ref, atol=1e-4)


@pytest.mark.parametrize("quant,tol", [("none", 0.05), ("int8", 0.1), ("int4", 0.3)])
def test_incremental_decoding_with_cache_matches_full_pass(hf, ids, quant, tol):
    """Prefill part, then one token at a time: the KV cache must give the same logits."""
    ref = hf(ids).logits
    m = FastLlama(hf, quant, torch.bfloat16, 128)
    cache = m.new_cache()
    m.forward(ids[:, :10], cache, 0)
    steps = torch.cat([m.forward(ids[:, t : t + 1], cache, t) for t in range(10, 24)], 1)
    assert (steps - ref[:, 10:]).abs().max() < tol * ref.abs().max()
    assert (steps.argmax(-1) == ref[:, 10:].argmax(-1)).float().mean() > 0.7


def test_reusing_a_prefix_after_divergence(hf, ids):
    """Rewriting the cache from position 12 (a new suffix) gives fresh-computation logits."""
    m = FastLlama(hf, "none", torch.float32, 128)
    cache = m.new_cache()
    m.forward(ids, cache, 0)
    other = ids.clone()
    other[:, 12:] = (other[:, 12:] + 5) % 400
    reused = m.forward(other[:, 12:], cache, 12, last_only=False)
    fresh = m.forward(other, m.new_cache(), 0, last_only=False)[:, 12:]
    assert torch.allclose(reused, fresh, atol=1e-4)


def test_overflowing_the_cache_is_an_error(hf):
    m = FastLlama(hf, "none", torch.float32, 16)
    with pytest.raises(ValueError, match="exceeds the KV cache"):
        m.forward(torch.zeros(1, 17, dtype=torch.long), m.new_cache(), 0)


def test_hf_backbone_crops_its_cache(hf, ids):
    ref = hf(ids).logits
    b = HFBackbone(hf, 128)
    cache = b.new_cache()
    b.forward(ids, cache, 0)
    again = b.forward(ids[:, 8:], cache, 8, last_only=False)
    assert torch.allclose(again, ref[:, 8:], atol=1e-4)
