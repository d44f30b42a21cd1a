"""LoRA training speed on this machine (wall and CPU time): precision, sequence length, head on trained positions only,
and torch.compile of the step, in one run on the same random rows.

python bench/train_speed.py [--steps 2] [--share 0.36] [--variants all] [--threads 2]
Needs the pulled base model (`wingman model pull`). Prints the CPU's features first; each row is
one micro-batch of `rows × seq` tokens, forward + backward + AdamW step, timed after a warm-up step.
`--share` is the share of positions that train (the v2 pack's is 19.7M of 54.6M = 0.36); trained
tokens per second is what bounds quality.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

# name: (rows, seq, bf16 autocast, head on trained positions only, torch.compile)
VARIANTS = {
    "fp32-2048-full": (1, 2048, False, False, False),
    "bf16-2048-full": (1, 2048, True, False, False),
    "bf16-2048-trained": (1, 2048, True, True, False),
    "bf16-1024-trained": (2, 1024, True, True, False),
    "bf16-512-trained": (4, 512, True, True, False),
    "bf16-2048-trained-compiled": (1, 2048, True, True, True),
    "fp32-512x2-full": (2, 512, False, False, False),  # `wingman learn`'s micro-batch
    "fp32-512x2-trained": (2, 512, False, True, False),
}


def cpu_features() -> str:
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
                break
    return " ".join(sorted(x for x in flags if x.startswith(("avx2", "avx512", "amx"))))


def main() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from model.pull import default_model_dir
    from training.train import trained_loss_sum

    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--share", type=float, default=0.36)
    p.add_argument("--variants", default="all", help="comma-separated names, or all: " + ", ".join(VARIANTS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--checkpointing", action="store_true", help="gradient checkpointing (recompute each layer in backward)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"cpu: {cpu_features()}; threads {args.threads}; torch {torch.__version__}"
          f"{'; gradient checkpointing' if args.checkpointing else ''}")
    model = AutoModelForCausalLM.from_pretrained(default_model_dir(), dtype=torch.float32)
    model.config.use_cache = False
    model.train()  # from_pretrained returns eval mode, where gradient checkpointing is off
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets, task_type="CAUSAL_LM"))
    if args.checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5)
    names = list(VARIANTS) if args.variants == "all" else args.variants.split(",")
    results = {}
    for name in names:
        rows, seq, bf16, trained_only, compiled = VARIANTS[name]
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(0, 49000, (rows, seq), generator=g)
        labels = ids.clone()
        labels[torch.rand(rows, seq, generator=g) > args.share] = -100  # untrained positions
        n = int((labels[:, 1:] != -100).sum())

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if trained_only:
                    loss = trained_loss_sum(model, ids, labels) / n
                else:
                    loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            opt.step()
            opt.zero_grad()

        fn = step
        t = time.perf_counter()
        if compiled:
            try:
                fn = torch.compile(step)
            except Exception as e:  # noqa: BLE001 - a bench row says why it has no figure
                print(f"{name}: compile failed: {e}")
                continue
        try:
            fn()  # warm-up (and the compile, when compiled)
        except Exception as e:  # noqa: BLE001
            print(f"{name}: failed: {type(e).__name__}: {e}")
            continue
        warm_s = time.perf_counter() - t
        rates, cpu_rates = [], []
        for _ in range(args.steps):
            t, c = time.perf_counter(), time.process_time()
            fn()
            rates.append(rows * seq / (time.perf_counter() - t))
            # CPU seconds of this process (all its threads): far less moved by other jobs than wall time
            cpu_rates.append(rows * seq / (time.process_time() - c))
        best = max(rates)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        results[name] = {"tokens_per_s": [round(r) for r in rates], "trained_tokens_per_s": round(best * n / (rows * seq)),
                         "first_step_s": round(warm_s, 1), "peak_rss_mib_so_far": round(peak_mib),
                         "tokens_per_cpu_s": [round(r) for r in cpu_rates]}
        print(f"{name}: {', '.join(f'{r:.0f}' for r in rates)} tokens/s, "
              f"{', '.join(f'{r:.0f}' for r in cpu_rates)} tokens per CPU second "
              f"({best * n / (rows * seq):.0f} trained tokens/s at share {n / (rows * seq):.2f}; first step {warm_s:.1f} s; peak RSS so far {peak_mib:.0f} MiB)",
              flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
