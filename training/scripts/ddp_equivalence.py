"""Check that N processes train the same as one: `accelerate launch --multi_gpu --num_processes N`
(torchrun underneath; without a GPU our Accelerator(cpu=True) makes it MULTI_CPU over gloo) against
a single process with N× the gradient accumulation, on the same global batches.

    python -m training.scripts.ddp_equivalence [--work DIR] [--processes 2] [--steps 8]

Builds a tiny random model and packs this repository's `model/` package with its tokenizer unless
--data/--base-model are given, then prints max |Δ| of the final trainable tensors and of the losses.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def prepare(work: Path) -> tuple[Path, Path]:
    from transformers import AutoTokenizer

    from model.tiny import make_tiny_checkpoint
    from training import annotate, clean, collect, pack
    from training.config import AnnotateConfig, CleanConfig, CollectConfig, PackConfig, SourceConfig

    model = make_tiny_checkpoint(work / "tiny")
    tok = AutoTokenizer.from_pretrained(model)
    collect.run(CollectConfig(output=str(work / "collect"), heldout="", sources=[
        SourceConfig(kind="dir", path=str(ROOT / "model"), license="Apache-2.0"),
        SourceConfig(kind="dir", path=str(ROOT / "training"), license="Apache-2.0")]))
    clean.run(CleanConfig(input=str(work / "collect"), output=str(work / "clean"), heldout="", heldout_fetch=False))
    annotate.run(AnnotateConfig(input=str(work / "clean"), output=str(work / "annotate")), tokenizer=tok)
    pack.run(PackConfig(input=str(work / "annotate"), output=str(work / "pack"), seq_len=128, val_fraction=0.5),
             tokenizer=tok)
    return work / "pack", model


def train(cmd: list[str], cfg: dict, path: Path) -> float:
    path.write_text(yaml.safe_dump(cfg))
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd + ["-m", "wingman", "train", "--config", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"training failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--base-model", type=Path)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--accum-per-process", type=int, default=1)
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="wingman-ddp-"))
    work.mkdir(parents=True, exist_ok=True)
    data, model = (args.data, args.base_model) if args.data else prepare(work)
    n = args.processes
    cfg = dict(data=str(data), base_model=str(model), mode="lora", lora_r=8, lora_alpha=16, lora_dropout=0.05,
               micro_batch_size=1, lr=5e-3, warmup_steps=2, max_steps=args.steps, eval_every=args.steps // 2,
               eval_batches=4, save_every=args.steps, seed=1)
    one = train([sys.executable], {**cfg, "output": str(work / "one"), "grad_accum": n * args.accum_per_process},
                work / "one.yaml")
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(n),
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    many = train(launch, {**cfg, "output": str(work / "many"), "grad_accum": args.accum_per_process},
                 work / "many.yaml")

    from safetensors.torch import load_file

    a = load_file(work / "one" / "final" / "adapter_model.safetensors")
    b = load_file(work / "many" / "final" / "adapter_model.safetensors")
    la = json.loads((work / "one" / "log.json").read_text())
    lb = json.loads((work / "many" / "log.json").read_text())
    procs = [json.loads((work / d / "train.json").read_text())["processes"] for d in ("one", "many")]
    if procs != [1, n]:
        sys.exit(f"expected 1 and {n} processes, the runs report {procs}")
    moved = max(float(v.abs().max()) for k, v in a.items() if "lora_B" in k)
    result = {
        "processes": n, "steps": args.steps, "tensors": len(a),
        "max_abs_weight_diff": max(float((a[k] - b[k]).abs().max()) for k in a),
        "max_abs_lora_B": moved,
        "max_abs_loss_diff": max(abs(x.get(k, 0) - y.get(k, 0)) for x, y in zip(la, lb) for k in ("loss", "val_loss")),
        "val_loss": [la[-1].get("val_loss"), lb[-1].get("val_loss")],
        "final_loss": [la[-1]["loss"], lb[-1]["loss"]],
        "wall_s": {"one_process": round(one, 1), f"{n}_processes": round(many, 1)},
        "work": str(work),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
