"""collect → clean → annotate → pack → train → export on a tiny random model, then the engine
loads the export and completes (merged and adapter forms)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training import export, train
from training.config import ExportConfig, TrainConfig

from .pipeline import run_data_steps

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model, tiny_tokenizer) -> dict[str, Path]:
    from .conftest import GEOMETRY, GEOMETRY_TESTS, MIT, STRINGS, write_tree

    tmp = tmp_path_factory.mktemp("e2e")
    repos = [write_tree(tmp / "src" / "geometry", {"LICENSE": MIT, "geometry.py": GEOMETRY,
                                                    "tests/test_geometry.py": GEOMETRY_TESTS}),
             write_tree(tmp / "src" / "strings", {"LICENSE": MIT, "strings_util.py": STRINGS,
                                                  "web/app.js": "function add(a, b) {\n  return a + b;\n}\n"})]
    run_data_steps(repos, tmp, tiny_tokenizer, seq_len=64)
    train.run(TrainConfig(data=str(tmp / "pack"), output=str(tmp / "train"), base_model=str(tiny_model),
                          lora_r=4, lora_alpha=8, micro_batch_size=2, grad_accum=1, max_steps=3, warmup_steps=1,
                          eval_every=3, save_every=3, lr=1e-2))
    (tmp / "eval.json").write_text(json.dumps({"line_exact_match": 0.0}))
    out = {"merged": tmp / "export-merged", "adapter": tmp / "export-adapter"}
    export.run(ExportConfig(train=str(tmp / "train"), output=str(out["merged"]), eval_results=str(tmp / "eval.json")))
    export.run(ExportConfig(train=str(tmp / "train"), output=str(out["adapter"]), merge=False))
    return out


def test_export_metadata(exported, tiny_model):
    meta = json.loads((exported["merged"] / "wingman.json").read_text())
    assert meta["fim_template"] == "wingman" and meta["format"] == "merged"
    assert meta["base_model"] == str(tiny_model) and len(meta["base_model_sha256"]) == 64
    assert meta["languages"] == ["javascript", "python"]
    assert {p["package"] for p in meta["data"]["manifest"]} == {"geometry", "strings"}
    assert meta["data"]["counts"]["clean"]["output"] == 4
    assert meta["training"]["config"]["max_steps"] == 3 and meta["eval"] == {"line_exact_match": 0.0}
    ad = json.loads((exported["adapter"] / "adapter_config.json").read_text())
    assert ad["base_model_name_or_path"] == str(Path(tiny_model).resolve())
    assert json.loads((exported["adapter"] / "wingman.json").read_text())["format"] == "adapter"


def test_merged_and_adapter_exports_agree(exported, tiny_model):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(exported["merged"])
    ids = tok("<|wm_fim_suffix|>\n<|wm_fim_prefix|>def add(a, b):\n<|wm_fim_middle|>", return_tensors="pt").input_ids
    merged = AutoModelForCausalLM.from_pretrained(exported["merged"]).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    base.resize_token_embeddings(len(tok), mean_resizing=False)
    adapted = PeftModel.from_pretrained(base, exported["adapter"]).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, adapted(ids).logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("form", ["merged", "adapter"])
def test_engine_loads_the_export_and_completes(exported, form):
    from model.config import EngineConfig
    from model.factory import load_engine
    from model.types import CancelToken, CompletionRequest

    engine = load_engine(EngineConfig(model=str(exported[form]), quantize="none", dtype="float32"))
    assert engine.info.fim_template == "wingman"  # read from wingman.json
    prompt = engine.builder.build("def add(a, b):\n    return", "\n", 256)
    assert engine.tok.decode(prompt.ids).endswith("<|wm_fim_prefix|>def add(a, b):\n    return")  # open middle
    engine.complete(CompletionRequest(prefix="def add(a, b):\n    return", suffix="\n", max_tokens=6))
    held = engine.decoder.slots["complete"].ids
    assert held[: len(prompt.ids) - 1] == prompt.ids[:-1]  # the prompt was prefilled (its last token healed)
    # Random weights may stop at once; without stop tokens the loaded weights decode every step.
    decoder = engine.decoder
    stop_ids, decoder.stop_ids = decoder.stop_ids, set()
    try:
        slot = decoder.slot("e2e")
        logits, _ = decoder.prefill(slot, prompt.ids, CancelToken())
        produced = [t for t, _ in decoder.tokens(slot, logits, 6, CancelToken())]
    finally:
        decoder.stop_ids = stop_ids
    assert len(produced) == 6 and slot.ids[: len(prompt.ids)] == prompt.ids
    assert slot.ids[len(prompt.ids):] == produced[: len(slot.ids) - len(prompt.ids)]  # what was decoded is cached
    assert len(slot.ids) >= len(prompt.ids) + 5


def test_cli_subcommands_validate_their_configs(exported, tmp_path):
    """The `wingman` subcommands are registered and reject a bad config with exit code 2."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("nonsense_key: 1\n")
    for step in ("collect", "clean", "annotate", "pack", "train", "export"):
        proc = subprocess.run([sys.executable, "-m", "wingman", step, "--config", str(bad)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "unknown keys" in proc.stderr, (step, proc.stderr[-500:])
