"""The adapter in the repository is what `--model default` applies: small, complete, Wingman's FIM."""

import json

from model.loading import SHIPPED_ADAPTER, shipped_adapter

MAX_BYTES = 50 * 2**20


def test_the_shipped_adapter_is_small_and_complete():
    assert shipped_adapter() == SHIPPED_ADAPTER, f"{SHIPPED_ADAPTER} is missing (make wingman-model)"
    size = sum(p.stat().st_size for p in SHIPPED_ADAPTER.rglob("*") if p.is_file())
    assert size < MAX_BYTES, f"{size / 2**20:.1f} MiB in the repository"
    config = json.loads((SHIPPED_ADAPTER / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "base" and config["peft_type"] == "LORA"
    meta = json.loads((SHIPPED_ADAPTER / "wingman.json").read_text())
    assert meta["fim_template"] == "wingman" and meta["format"] == "adapter"
    assert meta["training"]["steps"] >= 100 and meta["data"]["manifest"]  # the provenance travels with it


def test_the_shipped_tokenizer_has_the_fim_tokens():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(SHIPPED_ADAPTER)
    for t in ("<|wm_fim_prefix|>", "<|wm_fim_suffix|>", "<|wm_fim_middle|>", "<|wm_fim_pad|>"):
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1
