"""Warm starts that are not "continue the same adapter": a full fine-tune or a LoRA of another rank,
both on top of a shipped adapter, and the fold that ships the second kind as one plain adapter.

A LoRA of rank r2 trained on (base + adapter of rank r1, merged) is, with the first adapter, one
LoRA of rank r1 + r2 on the base: ΔW = s1·B1A1 + s2·B2A2 = [B1·s1 | B2·s2] · [A1; A2] with
scaling 1. So the engine, peft and `wingman export` load the folded result as any other adapter.
The FIM rows are absolute values (peft's trainable tokens), so the second run's rows replace the
first's.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

ADAPTER_FILE = "adapter_model.safetensors"


def merged_with(model, adapter_dir: Path):
    """The plain model with the adapter (its LoRA deltas and FIM rows) merged into the weights."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()


def _scaling(conf: dict) -> float:
    r, alpha = conf["r"], conf["lora_alpha"]
    return alpha / r ** 0.5 if conf.get("use_rslora") else alpha / r  # peft's LoraLayer.update_layer


def fold(first_dir: Path, second_dir: Path) -> None:
    """Rewrite the adapter in second_dir (trained on the base with first_dir merged) as one adapter on
    the base: rank r1 + r2, scaling 1, the union of both adapters' target modules."""
    from safetensors.torch import load_file, save_file

    c1 = json.loads((first_dir / "adapter_config.json").read_text())
    c2 = json.loads((second_dir / "adapter_config.json").read_text())
    for conf, where in ((c1, first_dir), (c2, second_dir)):
        if conf.get("peft_type") != "LORA" or conf.get("use_dora") or conf.get("rank_pattern") or conf.get("alpha_pattern"):
            raise ValueError(f"{where}: only a plain LoRA adapter (one rank, no DoRA) can be folded")
    s1, s2, r1, r2 = _scaling(c1), _scaling(c2), c1["r"], c2["r"]
    w1, w2 = load_file(str(first_dir / ADAPTER_FILE)), load_file(str(second_dir / ADAPTER_FILE))
    out: dict[str, torch.Tensor] = {}
    for key in sorted(set(w1) | set(w2)):
        if ".lora_A." in key:
            a1, a2 = w1.get(key), w2.get(key)
            like = a1 if a1 is not None else a2
            a1 = a1 if a1 is not None else like.new_zeros((r1, like.shape[1]))
            a2 = a2 if a2 is not None else like.new_zeros((r2, like.shape[1]))
            out[key] = torch.cat([a1.float(), a2.float()], 0).contiguous()
        elif ".lora_B." in key:
            b1, b2 = w1.get(key), w2.get(key)
            like = b1 if b1 is not None else b2
            b1 = b1 if b1 is not None else like.new_zeros((like.shape[0], r1))
            b2 = b2 if b2 is not None else like.new_zeros((like.shape[0], r2))
            out[key] = torch.cat([b1.float() * s1, b2.float() * s2], 1).contiguous()
        else:
            out[key] = (w2[key] if key in w2 else w1[key]).contiguous()  # the FIM rows: the later run's
    conf = {**c2, "r": r1 + r2, "lora_alpha": r1 + r2, "use_rslora": False,
            "target_modules": sorted(set(c1["target_modules"]) | set(c2["target_modules"]))}
    tmp = second_dir / f".{ADAPTER_FILE}.tmp"
    save_file(out, str(tmp), metadata={"format": "pt"})
    tmp.replace(second_dir / ADAPTER_FILE)
    (second_dir / "adapter_config.json").write_text(json.dumps(conf, indent=2, sort_keys=True))
