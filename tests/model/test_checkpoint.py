"""The fast decoder built straight from the checkpoint's files (model/checkpoint.py) is the one
built through transformers and peft, tensor for tensor, and the engine keeps only what serves:
no transformers model, no whole-window logits, caches sized to the prompts in use."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch

from model.config import EngineConfig
from model.kernels import parse_plan
from model.llama import FastLlama
from model.types import CompletionRequest

PLANS = ["int4/bf16/float32", "int8/int8/float32", "fp32/fp32/float32"]
NEW_TOKENS = ["<fim_x>", "<fim_y>"]


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir, tmp_path_factory):
    """A LoRA adapter on every projection, with non-zero B matrices (a fresh adapter's are zero,
    and its merge a no-op) and trainable rows for two added tokens, saved as training saves it."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("adapter") / "lora"
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    tok.add_special_tokens({"additional_special_tokens": NEW_TOKENS})
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    ids = tok.convert_tokens_to_ids(NEW_TOKENS)
    conf = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                         "up_proj", "down_proj"], trainable_token_indices=ids,
                      task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, conf)
    torch.manual_seed(3)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "trainable_tokens_delta" in name:
                p.copy_(torch.randn_like(p) * 0.05)
    peft_model.save_pretrained(out, save_embedding_layers=False)
    tok.save_pretrained(out)
    return out


def _tensors(m: FastLlama) -> dict[str, torch.Tensor]:
    out = {"embed": m.embed, "norm": m.norm, "cos": m.cos, "sin": m.sin}
    mats = [("lm_head", m.lm_head)] + [(f"{i}.{k}", L[k]) for i, L in enumerate(m.layers)
                                       for k in ("wqkv", "wo", "w13", "w2")]
    for key, q in mats:
        for role in ("decode", "prefill"):
            form = getattr(q, role)
            out[f"{key}.{role}"] = form.q
            if form.params is not None:
                out[f"{key}.{role}.params"] = form.params
        if q.bias is not None:
            out[f"{key}.bias"] = q.bias
    for i, L in enumerate(m.layers):
        out[f"{i}.ln1"], out[f"{i}.ln2"] = L["ln1"], L["ln2"]
    return out


def _both(model_dir, adapter, plan_text):
    from model.loading import load_dtype, load_fast, load_hf, load_tokenizer, read_config, resolve

    plan = parse_plan(plan_text)
    resolved = resolve(str(model_dir), str(adapter) if adapter else None)
    config = EngineConfig(model=str(model_dir), kernels=plan_text)
    dtype = load_dtype(plan, config, 0)
    tok = load_tokenizer(resolved)
    direct = load_fast(resolved, plan, dtype, read_config(resolved.model_dir), 256, tok)
    hf, _ = load_hf(resolved, dtype, "cpu", tokenizer=tok)
    through_hf = FastLlama(hf, plan, 256, consume=True)
    return direct, through_hf


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("with_adapter", [False, True])
def test_the_direct_build_equals_the_one_through_transformers_bitwise(tiny_dir, adapter_dir, plan, with_adapter):
    direct, through_hf = _both(tiny_dir, adapter_dir if with_adapter else None, plan)
    assert direct is not None, "the tiny Llama and its LoRA adapter are read directly"
    a, b = _tensors(direct), _tensors(through_hf)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k].dtype != b[k].dtype or a[k].shape != b[k].shape or not torch.equal(a[k], b[k])]
    assert differ == []
    if with_adapter:  # the added tokens' rows are the adapter's, in the table and the head
        assert direct.embed[-len(NEW_TOKENS):].float().abs().sum() > 0


def test_an_adapter_the_direct_path_cannot_merge_goes_through_transformers(tiny_dir, adapter_dir, tmp_path):
    import json
    import shutil

    from model.checkpoint import for_checkpoint
    from model.loading import read_config

    dora = tmp_path / "dora"
    shutil.copytree(adapter_dir, dora)
    conf = json.loads((dora / "adapter_config.json").read_text())
    (dora / "adapter_config.json").write_text(json.dumps({**conf, "use_dora": True}))
    assert for_checkpoint(tiny_dir, dora, read_config(tiny_dir), torch.float32, 600) is None
    other_rope = {**read_config(tiny_dir), "rope_parameters": {"rope_type": "llama3", "rope_theta": 1e4}}
    assert for_checkpoint(tiny_dir, None, other_rope, torch.float32, 0) is None


def test_a_truncated_checkpoint_is_a_clear_error(tiny_dir, tmp_path):
    import shutil

    from model.engine import EngineError
    from model.local import LocalEngine

    broken = tmp_path / "broken"
    shutil.copytree(tiny_dir, broken)
    st = broken / "model.safetensors"
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    with pytest.raises(EngineError, match="could not load"):
        LocalEngine.load(EngineConfig(model=str(broken), kernels="int8/int8/float32"))


def _hf_models_alive() -> list[str]:
    gc.collect()
    from transformers import PreTrainedModel

    return [type(o).__name__ for o in gc.get_objects() if isinstance(o, PreTrainedModel)]


REQUEST = CompletionRequest(prefix="def add(a, b):\n    return", suffix="\n", max_tokens=12)


def test_the_engine_keeps_no_transformers_model_and_answers_as_before(tiny_dir, adapter_dir, monkeypatch):
    """Greedy output and scores are those of the engine built through transformers; that engine
    drops its transformers model too (a weak reference to it is dead once loading is done)."""
    import model.loading as loading
    from model.local import LocalEngine

    config = EngineConfig(model=str(tiny_dir), adapter=str(adapter_dir), kernels="int4/bf16/float32")
    direct = LocalEngine.load(config)
    assert _hf_models_alive() == []
    text = "def mean(values):\n    return sum(values) / len(values)\n" * 3

    seen = []
    real_load_hf = loading.load_hf

    def spy(*args, **kwargs):
        hf, tok = real_load_hf(*args, **kwargs)
        seen.append(weakref.ref(hf))
        return hf, tok

    import model.local as local

    monkeypatch.setattr(local, "load_fast", lambda *a, **k: None)  # as for a checkpoint only transformers reads
    monkeypatch.setattr(local, "load_hf", spy)
    via_hf = LocalEngine.load(config)
    gc.collect()
    assert len(seen) == 1 and seen[0]() is None, "the transformers model outlived the fast path's build"
    assert [c.text for c in direct.complete(REQUEST)] == [c.text for c in via_hf.complete(REQUEST)]
    assert direct.score(text) == via_hf.score(text)


def test_scoring_matches_one_full_pass_and_gives_its_cache_back(tiny_dir, monkeypatch):
    import model.local as local
    from model.local import LocalEngine

    monkeypatch.setattr(local, "SCORE_CHUNK", 16)  # several chunks in a short text
    engine = LocalEngine.load(EngineConfig(model=str(tiny_dir), kernels="fp32/fp32/float32"))
    text = "for i in range(10):\n    print(i)\n" * 6
    scores = engine.score(text)
    assert "score" not in engine.decoder.slots  # nothing reuses it: its memory is given back
    ids = engine.tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) > 3 * 16 and len(scores) == len(ids) - 1
    bb = engine.backbone
    logprobs = bb.forward(torch.tensor([ids]), bb.new_cache(), 0, last_only=False)[0].log_softmax(-1)
    want = logprobs[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    got = torch.tensor([s.logprob for s in scores])
    assert torch.allclose(got, want, atol=1e-4)
    assert [s.best_text for s in scores] == [engine.tok.decode([int(t)]) for t in logprobs[:-1].argmax(-1)]


def test_caches_are_sized_to_the_prompts_in_use(tiny_dir):
    from model.decode import RESERVE
    from model.llama import GROW_STEP
    from model.local import LocalEngine

    engine = LocalEngine.load(EngineConfig(model=str(tiny_dir), kernels="fp32/fp32/float32", max_context=2048))
    engine.complete(REQUEST)
    slot = engine.decoder.slots["complete"]
    assert len(slot.ids) <= slot.cache.capacity <= len(slot.ids) + RESERVE + GROW_STEP
    assert slot.cache.capacity < engine.max_len // 4  # not the model's whole context


def test_quantizing_by_blocks_of_rows_equals_one_call(monkeypatch):
    import model.quant as quant

    torch.manual_seed(0)
    w = torch.randn(208, 64)  # not a multiple of the block: the last one is short
    whole = [quant.quantize_int4(w), quant.quantize_int8(w)]
    monkeypatch.setattr(quant, "CHUNK_ROWS", 64)
    blocks = [quant.quantize_int4(w), quant.quantize_int8(w)]
    for (q1, p1), (q2, p2) in zip(whole, blocks):
        assert torch.equal(q1, q2) and torch.equal(p1, p2)


@pytest.mark.real_model
@pytest.mark.slow
def test_the_default_model_builds_bitwise_the_same_both_ways():
    from model.loading import resolve

    resolved = resolve("default", None)
    direct, through_hf = _both(resolved.model_dir, resolved.adapter_dir, "int4/bf16/float32")
    a, b = _tensors(direct), _tensors(through_hf)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


@pytest.fixture(scope="module")
def tiny_qwen2_dir(tiny_dir, tmp_path_factory):
    """A Qwen2-shaped checkpoint: biases on q/k/v, untied head (the 0.5B coder's layout, small)."""
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    out = tmp_path_factory.mktemp("qwen2") / "ckpt"
    tok = AutoTokenizer.from_pretrained(tiny_dir)
    config = Qwen2Config(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=False, rope_theta=1e6)
    torch.manual_seed(5)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)  # fresh biases are zero: a bias lost would go unseen
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_a_qwen2_layout_builds_bitwise_the_same_both_ways(tiny_qwen2_dir):
    direct, through_hf = _both(tiny_qwen2_dir, None, "int8/bf16/float32")
    assert direct is not None
    a, b = _tensors(direct), _tensors(through_hf)
    assert any(k.endswith(".bias") for k in a) and a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
