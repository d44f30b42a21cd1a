"""LoRA training speed on this machine: fp32 against bf16 autocast, same batch, same run.

python bench/train_speed.py [--batch 4] [--seq 512] [--steps 3]
Needs the pulled base model (`wingman model pull`).
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from model.pull import default_model_dir

    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args()
    model = AutoModelForCausalLM.from_pretrained(default_model_dir(), dtype=torch.float32)
    model.config.use_cache = False
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets, task_type="CAUSAL_LM"))
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4)
    ids = torch.randint(0, 49000, (args.batch, args.seq), generator=torch.Generator().manual_seed(0))
    for mode in ("fp32", "bf16"):
        rates = []
        for _ in range(args.steps):
            t = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                out = model(input_ids=ids, labels=ids)
            out.loss.backward()
            opt.step()
            opt.zero_grad()
            rates.append(args.batch * args.seq / (time.perf_counter() - t))
        print(f"{mode}: " + ", ".join(f"{r:.0f}" for r in rates) + " tokens/s")


if __name__ == "__main__":
    main()
