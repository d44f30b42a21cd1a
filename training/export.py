"""`wingman export`: a trained run → a checkpoint directory the engine loads, with wingman.json.

Merged (default): the adapter folded into the base weights; `AutoModelForCausalLM.from_pretrained`
loads it alone. Kept: the peft adapter, the tokenizer with the FIM tokens beside it, and
`base_model_name_or_path` = "base" (the pulled base model) or the base's path; the loader resizes the base embeddings to
the tokenizer before applying the adapter. Either way wingman.json records the FIM template, base
model and hash, data manifest and counts, training config, and evaluation results once they exist.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from training.config import ExportConfig, resolve_base_model, run_path, to_dict
from training.io import read_json, write_json

WINGMAN_JSON = "wingman.json"


def metadata(train_dir: Path, summary: dict, eval_results: dict | None, merged: bool) -> dict:
    data = summary.get("data", {})
    ups = data.get("upstream", {})
    languages = data.get("languages") or {}
    return {
        "fim_template": "wingman",
        "format": "merged" if merged else "adapter",
        "base_model": summary.get("base_model"),
        "base_model_sha256": summary.get("base_model_sha256"),
        "languages": sorted(k for k in languages if k),
        "data": {
            "manifest": data.get("packages", []),
            "counts": {"collect": ups.get("collect", {}), "clean": ups.get("clean", {}),
                       "annotate": ups.get("annotate", {}), "pack": data.get("splits", {}), "languages": languages},
        },
        "training": {"config": summary.get("config", {}), "steps": summary.get("steps"),
                     "final_loss": summary.get("final_loss"), "final_val_loss": summary.get("final_val_loss"),
                     "initial_val_loss": summary.get("initial_val_loss"), "processes": summary.get("processes"),
                     "mode": summary.get("mode")},
        "eval": eval_results or {},
    }


def run(cfg: ExportConfig) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    train_dir = run_path(cfg.train)
    summary = read_json(train_dir / "train.json")
    final = train_dir / "final"
    if summary is None or not final.is_dir():
        raise FileNotFoundError(f"{train_dir} has no finished training run (train.json and final/)")
    eval_results = None
    for candidate in ([cfg.eval_results] if cfg.eval_results else []) + [str(train_dir / "eval.json")]:
        if candidate and Path(candidate).exists():
            eval_results = json.loads(Path(candidate).read_text())
            break
    out = Path(cfg.output)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    lora = summary.get("mode") == "lora"
    merged = not lora or cfg.merge
    dtype = getattr(torch, cfg.dtype)
    tok = AutoTokenizer.from_pretrained(final)
    if lora and cfg.merge:
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(resolve_base_model(summary["base_model"]), dtype=torch.float32)
        base.resize_token_embeddings(len(tok), mean_resizing=False)  # the FIM rows come from the adapter
        model = PeftModel.from_pretrained(base, final).merge_and_unload()
        model.to(dtype).save_pretrained(tmp)
        tok.save_pretrained(tmp)
    elif lora:
        shutil.copytree(final, tmp)
        acfg = read_json(tmp / "adapter_config.json")
        name = summary.get("base_model")
        acfg["base_model_name_or_path"] = "base" if name in ("default", "base") else str(resolve_base_model(name).resolve())
        write_json(tmp / "adapter_config.json", acfg)
    else:
        model = AutoModelForCausalLM.from_pretrained(final, dtype=torch.float32)
        model.to(dtype).save_pretrained(tmp)
        tok.save_pretrained(tmp)
    for extra in ("loss.png", "log.json"):
        if (train_dir / extra).exists():
            shutil.copy2(train_dir / extra, tmp / extra)
    meta = metadata(train_dir, summary, eval_results, merged)
    meta["export"] = to_dict(cfg)
    write_json(tmp / WINGMAN_JSON, meta)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return meta
