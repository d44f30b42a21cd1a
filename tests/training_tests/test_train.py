"""train: kill -9 then --resume reaches the same weights; LoRA trains and saves only what it should."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from training import train
from training.config import TrainConfig, load_config

from .conftest import GEOMETRY, GEOMETRY_TESTS, MIT, STRINGS, write_tree
from .pipeline import run_data_steps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def packed(tmp_path_factory, tiny_tokenizer) -> Path:
    tmp = tmp_path_factory.mktemp("packed")
    repos = [write_tree(tmp / "src" / "geometry", {"LICENSE": MIT, "geometry.py": GEOMETRY,
                                                    "tests/test_geometry.py": GEOMETRY_TESTS}),
             write_tree(tmp / "src" / "strings", {"LICENSE": MIT, "strings_util.py": STRINGS})]
    run_data_steps(repos, tmp, tiny_tokenizer, seq_len=48)
    return tmp / "pack"


def _config(packed: Path, tiny_model: Path, output: Path, **kw) -> dict:
    base = dict(data=str(packed), output=str(output), base_model=str(tiny_model), mode="lora", lora_r=4,
                lora_alpha=8, lora_dropout=0.1, lora_targets=["q_proj", "v_proj", "down_proj"], micro_batch_size=2,
                grad_accum=2, lr=5e-3, warmup_steps=2, max_steps=6, eval_every=3, eval_batches=2, save_every=2,
                seed=3, adaptive_threads=False)  # one thread count throughout: exact resume compares bits
    return {**base, **kw}


def _train_cli(config: dict, tmp: Path, *extra: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    path = tmp / f"cfg-{len(list(tmp.glob('cfg-*')))}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "wingman", "train", "--config", str(path), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _final(output: Path) -> dict[str, torch.Tensor]:
    return load_file(output / "final" / "adapter_model.safetensors")


def test_kill_9_then_resume_matches_an_uninterrupted_run(packed, tiny_model, tmp_path, capsys):
    killed = tmp_path / "killed"
    cfg = _config(packed, tiny_model, killed)
    proc = _train_cli(cfg, tmp_path, env_extra={train.FAULT_ENV: "3"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not (killed / "final").exists()
    assert (killed / "checkpoints" / "latest").read_text() == "step-0000002"

    train.run(load_config(TrainConfig, None, cfg), resume=True)
    assert f"resumed from {killed / 'checkpoints' / 'step-0000002'} at step 2" in capsys.readouterr().out
    assert (killed / "final").is_dir()

    straight = tmp_path / "straight"
    summary = train.run(load_config(TrainConfig, None, _config(packed, tiny_model, straight)))
    a, b = _final(killed), _final(straight)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)
    import json

    log_a = json.loads((killed / "log.json").read_text())
    log_b = json.loads((straight / "log.json").read_text())
    assert [r["step"] for r in log_a] == list(range(0, 7))  # 0: the base model's validation loss
    assert [round(r.get("loss", 0), 5) for r in log_a] == [round(r.get("loss", 0), 5) for r in log_b]
    assert summary["final_val_loss"] is not None and (straight / "loss.png").stat().st_size > 1000
    # Training moved the weights (a test that cannot fail would not show that).
    lora_b = [v for k, v in b.items() if "lora_B" in k]
    assert any(v.abs().max() > 0 for v in lora_b)


def test_lora_trains_only_adapters_and_fim_rows(packed, tiny_model, tmp_path):
    from transformers import AutoTokenizer

    out = tmp_path / "lora"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, out, max_steps=2, save_every=1)))
    tensors = _final(out)
    tok = AutoTokenizer.from_pretrained(out / "final")
    assert all("lora_" in k or "trainable_tokens_delta" in k for k in tensors), sorted(tensors)
    delta = [v for k, v in tensors.items() if "trainable_tokens_delta" in k]
    assert delta and all(v.shape[0] == 4 for v in delta)  # four FIM rows, not the whole embedding
    assert "<|wm_fim_middle|>" in tok.get_vocab()
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == ["step-0000001", "step-0000002"]


def test_fim_rows_start_from_their_words_and_learn_faster(packed, tiny_model):
    from transformers import AutoTokenizer

    cfg = load_config(TrainConfig, None, _config(packed, tiny_model, packed.parent / "unused", token_lr_scale=7.0))
    tok = AutoTokenizer.from_pretrained(packed / "tokenizer")
    fim_ids = tok.convert_tokens_to_ids(["<|wm_fim_prefix|>", "<|wm_fim_suffix|>", "<|wm_fim_middle|>", "<|wm_fim_pad|>"])
    model, _ = train.build_model(cfg, tok, fim_ids)
    emb = model.get_input_embeddings()
    weight = emb.get_base_layer().weight if hasattr(emb, "get_base_layer") else emb.weight
    for token, word in cfg.fim_token_init.items():
        words = tok(word, add_special_tokens=False)["input_ids"]
        assert torch.allclose(weight[tok.convert_tokens_to_ids(token)], weight[words].mean(0))
    rows = {tuple(weight[i].tolist()) for i in fim_ids}
    assert len(rows) == 4  # four different starting points
    groups = train.param_groups(model, cfg)
    token_groups = [g for g in groups if g.get("lr") == cfg.lr * 7.0]
    assert len(token_groups) == 1 and all(p.shape[0] == 4 for p in token_groups[0]["params"])


def test_full_fine_tuning_writes_a_loadable_model(packed, tiny_model, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "full"
    before = load_file(tiny_model / "model.safetensors")
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, out, mode="full", max_steps=2)))
    model = AutoModelForCausalLM.from_pretrained(out / "final")
    after = model.state_dict()
    name = "model.layers.0.mlp.down_proj.weight"
    assert not torch.equal(before[name], after[name])
    assert model.get_input_embeddings().weight.shape[0] == before["model.embed_tokens.weight"].shape[0] + 4


def test_config_validation(tmp_path):
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="unknown keys"):
        load_config(TrainConfig, None, {"learning_rate": 1})
    with pytest.raises(ConfigError, match="mode"):
        load_config(TrainConfig, None, {"mode": "qlora"})
    with pytest.raises(ConfigError, match="max_steps: expected integer"):
        load_config(TrainConfig, None, {"max_steps": "many"})
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr: 1e-4\nmax_steps: 10\n")
    loaded = load_config(TrainConfig, str(cfg), ["max_steps=20"])
    assert loaded.lr == 1e-4 and loaded.max_steps == 20


def test_a_damaged_checkpoint_is_detected_and_the_one_before_is_used(packed, tiny_model, tmp_path, capsys):
    out = tmp_path / "damaged"
    cfg = _config(packed, tiny_model, out, max_steps=4, keep_checkpoints=3)
    train.run(load_config(TrainConfig, None, cfg))
    ckpts = out / "checkpoints"
    assert (ckpts / "latest").read_text() == "step-0000004"
    blob = ckpts / "step-0000004" / "trainable.safetensors"
    blob.write_bytes(blob.read_bytes()[:-64] + b"\0" * 64)  # a bad copy of the newest
    train.run(load_config(TrainConfig, None, cfg), resume=True)
    said = capsys.readouterr().out
    assert "checkpoint step-0000004 is damaged (trainable.safetensors does not match its hash)" in said
    assert f"resumed from {ckpts / 'step-0000002'} at step 2" in said


def test_a_diverging_run_stops_and_says_so(packed, tiny_model, tmp_path):
    from training.config import StepError

    assert train.rising([{"val_loss": v} for v in (2.0, 1.5, 1.6, 1.7, 1.8)], 3)
    assert not train.rising([{"val_loss": v} for v in (2.0, 1.5, 1.6, 1.55, 1.8)], 3)
    cfg = _config(packed, tiny_model, tmp_path / "nan", lr=1e30, max_grad_norm=0, warmup_steps=0)
    with pytest.raises(StepError, match="diverged|rose"):
        train.run(load_config(TrainConfig, None, cfg))


def test_a_run_can_warm_start_from_an_adapter_and_live_in_the_cache(packed, tiny_model, tmp_path, monkeypatch, capsys):
    first = tmp_path / "first"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, first, max_steps=2)))
    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "home"))
    cfg = _config(packed, tiny_model, "cache:warm", max_steps=2, init_adapter=str(first / "final"))
    train.run(load_config(TrainConfig, None, cfg))
    assert f"warm start: the LoRA adapter {first / 'final'}" in capsys.readouterr().out
    warm = tmp_path / "home" / "runs" / "warm"
    assert (warm / "final" / "adapter_model.safetensors").is_file()
    start = _final(first)
    after = load_file(warm / "final" / "adapter_model.safetensors")
    # It went on from the first run's weights. A fresh adapter with the same seed and data would
    # have landed exactly where the first run did; this one went further the same way.
    k = next(k for k in start if "lora_B" in k)
    cos = torch.nn.functional.cosine_similarity(after[k].flatten(), start[k].flatten(), dim=0)
    assert not torch.allclose(after[k], start[k]) and cos > 0.5 and after[k].norm() > start[k].norm()


def test_a_time_budget_ends_the_run_cleanly(packed, tiny_model, tmp_path, capsys):
    out = tmp_path / "budget"
    summary = train.run(load_config(TrainConfig, None, _config(packed, tiny_model, out, max_steps=1000,
                                                                max_minutes=0.0001, save_every=500)))
    said = capsys.readouterr().out
    assert "the time budget (0.0001 min) is spent at step 1 of 1000" in said
    assert summary["steps"] == 1 and summary["final_val_loss"] is not None
    assert (out / "final").is_dir() and (out / "checkpoints" / "latest").read_text() == "step-0000001"


def test_head_on_trained_positions_gives_the_full_loss_and_gradients(tiny_model):
    """trained_loss_sum runs the head only where labels train; its loss and gradients must be the
    full-logits loss's (summed), for a batch whose rows train at different positions."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.train import trained_loss_sum

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    ids = torch.randint(0, 300, (2, 24))
    labels = ids.clone()
    labels[0, :10] = -100
    labels[1, 5:20] = -100
    n = int((labels[:, 1:] != -100).sum())
    full = model(input_ids=ids, labels=labels, num_items_in_batch=torch.tensor(float(n))).loss
    full.backward()
    want = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    part = trained_loss_sum(model, ids, labels) / n
    part.backward()
    assert abs(float(part) - float(full)) < 1e-5
    for k, p in model.named_parameters():
        if k in want:
            assert torch.allclose(p.grad, want[k], atol=1e-6), k
    none = labels.clone().fill_(-100)
    assert float(trained_loss_sum(model, ids, none)) == 0.0


def test_gradient_checkpointing_trains_the_same_adapter(packed, tiny_model, tmp_path):
    """Recomputing activations in the backward pass saves memory, not arithmetic: same adapter."""
    kw = dict(max_steps=2, save_every=2, lora_dropout=0.0)
    plain = tmp_path / "plain"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, plain, **kw)))
    recomputed = tmp_path / "recomputed"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, recomputed, gradient_checkpointing=True, **kw)))
    a, b = _final(plain), _final(recomputed)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5)
    assert any(v.abs().max() > 0 for k, v in b.items() if "lora_B" in k)
    # ... and it was on (else the comparison above proves nothing).
    from transformers import AutoTokenizer

    from training.pack import FIM_TOKENS

    tok = AutoTokenizer.from_pretrained(packed / "tokenizer")
    cfg = load_config(TrainConfig, None, _config(packed, tiny_model, tmp_path / "x", gradient_checkpointing=True, **kw))
    model, _ = train.build_model(cfg, tok, tok.convert_tokens_to_ids(FIM_TOKENS))
    assert model.base_model.model.is_activation_checkpointing


def _logits(model_dir: Path, adapter: Path | None, ids: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    from transformers import AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        vocab = len(AutoTokenizer.from_pretrained(adapter))  # with the FIM rows the run added
        if model.get_input_embeddings().weight.shape[0] < vocab:
            model.resize_token_embeddings(vocab)
        model = PeftModel.from_pretrained(model, str(adapter))
    with torch.no_grad():
        return model.eval()(input_ids=ids).logits


def test_a_higher_rank_stacks_on_the_shipped_adapter_and_saves_one_folded_adapter(packed, tiny_model, tmp_path, capsys):
    """A rank-8 LoRA trained on (base + a rank-4 adapter, merged) is saved as one rank-12 adapter on
    the base that computes what the stacked pair computes; the first adapter alone does not."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from training.stack import merged_with

    first = tmp_path / "first"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, first, max_steps=2, lr=5e-2)))
    stacked = tmp_path / "stacked"
    cfg = _config(packed, tiny_model, stacked, max_steps=2, lr=5e-2, lora_r=8, lora_alpha=32,
                  lora_targets=["q_proj", "o_proj"], init_adapter=str(first / "final"), init_stack=True)
    train.run(load_config(TrainConfig, None, cfg))
    assert "merged into the base; a fresh rank-8 LoRA on top" in capsys.readouterr().out
    conf = __import__("json").loads((stacked / "final" / "adapter_config.json").read_text())
    assert conf["r"] == 12 and conf["lora_alpha"] == 12
    assert set(conf["target_modules"]) == {"q_proj", "v_proj", "down_proj", "o_proj"}

    ids = torch.tensor([[5, 17, 42, 9, 250, 3, 77, 8]])
    folded = _logits(tiny_model, stacked / "final", ids)
    # The reference: the first adapter merged, then the second run's own adapter on top of it. Its
    # weights are the folded file's last 8 ranks, unscaled by the second run's scaling (32 / 8).
    from safetensors.torch import load_file

    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    base.resize_token_embeddings(folded.shape[-1])
    merged = merged_with(base, first / "final")
    w = load_file(str(stacked / "final" / "adapter_model.safetensors"))
    ref = merged
    with torch.no_grad():
        for name, module in ref.named_modules():
            key = f"base_model.model.{name}.lora_A.weight"
            if key in w and name.split(".")[-1] in ("q_proj", "o_proj"):
                a, b = w[key][4:], w[key.replace("lora_A", "lora_B")][:, 4:]
                module.weight += b @ a  # already scaled by the fold
        emb = ref.get_input_embeddings().weight
        idx = conf["trainable_token_indices"]
        emb[idx] = w["base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"]
        expected = ref.eval()(input_ids=ids).logits
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-4)
    first_only = _logits(tiny_model, first / "final", ids)
    assert not torch.allclose(folded, first_only, atol=1e-3)  # the second run moved it


def test_full_fine_tuning_warm_starts_from_the_merged_adapter(packed, tiny_model, tmp_path, capsys):
    first = tmp_path / "first"
    train.run(load_config(TrainConfig, None, _config(packed, tiny_model, first, max_steps=2, lr=5e-2)))
    ids = torch.tensor([[5, 17, 42, 9, 250, 3, 77, 8]])
    with_adapter = _logits(tiny_model, first / "final", ids)
    full = tmp_path / "full"
    cfg = _config(packed, tiny_model, full, mode="full", max_steps=1, lr=1e-12, warmup_steps=1,
                  init_adapter=str(first / "final"))
    summary = train.run(load_config(TrainConfig, None, cfg))
    assert "merged into the base; all weights train" in capsys.readouterr().out
    assert summary["mode"] == "full" and (full / "final" / "config.json").is_file()
    # One step at a learning rate of 1e-12 leaves the merged weights where they started: the
    # full model begins exactly where base + adapter stands, not at the base.
    torch.testing.assert_close(_logits(full / "final", None, ids), with_adapter, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(_logits(tiny_model, None, ids)[..., :256], with_adapter[..., :256], atol=1e-3)


def test_init_stack_needs_an_adapter_to_stack_on():
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="init_stack needs"):
        TrainConfig(init_stack=True)
