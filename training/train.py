"""`wingman train`: LoRA or full fine-tuning on accelerate (CPU, one GPU, or `accelerate launch`).

Data order is a pure function of (seed, step): optimizer step s trains on positions
[s*G, (s+1)*G) of an endless stream of seeded permutations, G = micro_batch × grad_accum ×
processes. Each process takes its contiguous slice, and dropout is seeded by the micro-batch's
place in the global batch — so `--resume` replays exactly, and N processes compute what one
process with N× the accumulation computes. The loss is the sum over the global batch's trained
tokens divided by their count, whatever the split.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import signal
import time
from functools import lru_cache
from pathlib import Path

import torch

from model.threads import ThreadPolicy
from training import checkpoint
from training.config import StepError, TrainConfig, resolve_base_model, run_path, to_dict
from training.io import read_json, write_json

log = logging.getLogger(__name__)
FAULT_ENV = "WINGMAN_FAULT_KILL_AFTER_STEP"  # tests: SIGKILL this process after that optimizer step


def lr_lambda(cfg: TrainConfig):
    def f(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return f


class Order:
    """Position p of the endless sample stream → dataset row (epoch p // n, seeded permutation)."""

    def __init__(self, n: int, seed: int):
        if n == 0:
            raise StepError("the training split is empty: pack more data, or a smaller seq_len")
        self.n, self.seed = n, seed

    @lru_cache(maxsize=4)
    def perm(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def rows(self, start: int, count: int) -> list[int]:
        return [self.perm(p // self.n)[p % self.n] for p in range(start, start + count)]


def sha256_files(directory: Path) -> str:
    """One hash over the base model's weight files (sorted by name)."""
    import hashlib

    h = hashlib.sha256()
    files = sorted(p for p in directory.glob("*") if p.suffix in (".safetensors", ".bin", ".gguf"))
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest() if files else ""


def build_model(cfg: TrainConfig, tok, fim_ids: list[int]):
    from transformers import AutoModelForCausalLM

    base = resolve_base_model(cfg.base_model)
    if not (base / "config.json").exists():
        hint = " (run `wingman model pull`)" if cfg.base_model == "default" else ""
        raise FileNotFoundError(f"base model {base} not found{hint}")
    torch.manual_seed(cfg.seed)  # the new embedding rows are drawn at random
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    if model.get_input_embeddings().weight.shape[0] < len(tok):
        model.resize_token_embeddings(len(tok))
        init_fim_rows(model, tok, cfg.fim_token_init)
    model.config.use_cache = False
    if cfg.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()  # the frozen embedding's output must carry grad for LoRA's layers
    if cfg.init_adapter and (cfg.mode == "full" or cfg.init_stack):
        from training.stack import merged_with

        start = warm_start_adapter(cfg.init_adapter)
        what = "all weights train" if cfg.mode == "full" else f"a fresh rank-{cfg.lora_r} LoRA on top, saved folded"
        print(f"warm start: the LoRA adapter {start}, merged into the base; {what}")
        model = merged_with(model, start).requires_grad_(cfg.mode == "full")  # peft froze everything
    if cfg.mode == "lora" and cfg.init_adapter and not cfg.init_stack:
        from peft import PeftModel

        start = warm_start_adapter(cfg.init_adapter)
        print(f"warm start: the LoRA adapter {start} (not a fresh adapter)")
        model = PeftModel.from_pretrained(model, str(start), is_trainable=True)
        if model.peft_config["default"].r != cfg.lora_r:
            raise StepError(f"init_adapter {start} has rank {model.peft_config['default'].r}, the config "
                            f"asks for {cfg.lora_r}: set lora_r to match, or init_stack: true to train "
                            "a new adapter on top of it")
    elif cfg.mode == "lora":
        from peft import LoraConfig, get_peft_model

        # Only the FIM rows of the embedding train (and are saved): peft's trainable tokens.
        lcfg = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                          target_modules=cfg.lora_targets, trainable_token_indices=fim_ids, task_type="CAUSAL_LM")
        model = get_peft_model(model, lcfg)
    return model, base


def warm_start_adapter(name: str) -> Path:
    """"shipped": the adapter that serves by default (model/adapters/); else a directory."""
    if name == "shipped":
        from model.loading import shipped_adapter

        found = shipped_adapter()
        if found is None:
            raise StepError("init_adapter: shipped, but no adapter ships in model/adapters/")
        return found
    path = Path(name).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise StepError(f"init_adapter {path}: no adapter_config.json there")
    return path


def rising(rows: list[dict], patience: int) -> bool:
    """The validation loss went up at each of the last `patience` evaluations."""
    vals = [r["val_loss"] for r in rows if "val_loss" in r]
    if patience <= 0 or len(vals) < patience + 1:
        return False
    tail = vals[-(patience + 1):]
    return all(b > a for a, b in zip(tail, tail[1:]))


def _val_tail(rows: list[dict], cfg: TrainConfig) -> str:
    return " -> ".join(f"{r['val_loss']:.4f}" for r in [r for r in rows if "val_loss" in r][-(cfg.diverge_patience + 1):])


def init_fim_rows(model, tok, words: dict[str, str]) -> None:
    """Each new marker's row ← the mean embedding of its word's tokens (tied output rows follow)."""
    emb = model.get_input_embeddings().weight
    vocab = tok.get_vocab()
    with torch.no_grad():
        for token, word in words.items():
            if token not in vocab or not word:
                continue
            ids = tok(word, add_special_tokens=False)["input_ids"]
            emb[vocab[token]] = emb[ids].mean(0)


def param_groups(model, cfg: TrainConfig) -> list[dict]:
    """AdamW groups: matrices with weight decay, vectors without, the FIM rows at lr × token_lr_scale."""
    tokens, decay, no_decay = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if "trainable_tokens" in name:
            tokens.append(p)
        else:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if tokens:
        groups.append({"params": tokens, "weight_decay": 0.0, "lr": cfg.lr * cfg.token_lr_scale})
    return [g for g in groups if g["params"]]


def plot(log_rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train = [(r["step"], r["loss"]) for r in log_rows if "loss" in r]
    val = [(r["step"], r["val_loss"]) for r in log_rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4))
    if train:
        ax.plot(*zip(*train), label="train", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats / token)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def _batch(ds, rows: list[int], device) -> tuple[torch.Tensor, torch.Tensor]:
    data = ds[rows]
    return (torch.tensor(data["input_ids"], dtype=torch.long, device=device),
            torch.tensor(data["labels"], dtype=torch.long, device=device))


def trained_loss_sum(model, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The summed loss of the trained positions only. The head (49k × 576) and its softmax run on
    the positions whose next token trains — about a third of a packed row — not on all of them:
    fewer FLOPs, and no [rows × 2048 × 49k] logits held for the backward pass."""
    target = labels[:, 1:]
    keep = (target != -100).any(0).nonzero().squeeze(1)  # one set of positions for the micro-batch
    if keep.numel() == 0:
        keep = torch.zeros(1, dtype=torch.long, device=ids.device)  # all ignored: a zero still in the graph
    logits = model(input_ids=ids, logits_to_keep=keep).logits
    return torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), target[:, keep].flatten(),
                                             ignore_index=-100, reduction="sum")


def _trained_tokens(ds, rows: list[int]) -> int:
    labels = torch.tensor(ds[rows]["labels"])
    return int((labels[:, 1:] != -100).sum())


def run(cfg: TrainConfig, resume: bool = False) -> dict:
    from accelerate import Accelerator
    from transformers import AutoTokenizer

    from training.pack import FIM_TOKENS
    from training.packed import load_split

    # Without a GPU, say so: under torchrun / `accelerate launch --multi_gpu` that selects MULTI_CPU (gloo).
    acc = Accelerator(cpu=cfg.cpu or not torch.cuda.is_available(), mixed_precision=cfg.mixed_precision)
    out = run_path(cfg.output)
    ckpt_dir = out / "checkpoints"
    data = Path(cfg.data)
    tok = AutoTokenizer.from_pretrained(data / "tokenizer")
    fim_ids = tok.convert_tokens_to_ids(FIM_TOKENS)
    train_ds = load_split(data / "train")  # datasets Arrow, or the compact form (training/packed.py)
    val_dir = Path(cfg.validation or cfg.data) / "validation"  # one validation set can score a whole sweep
    val_ds = load_split(val_dir) if val_dir.exists() else None

    model, base = build_model(cfg, tok, fim_ids)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(param_groups(model, cfg), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    model, optimizer = acc.prepare(model, optimizer)  # the scheduler steps once per optimizer step, ourselves
    raw = acc.unwrap_model(model)

    start, rows_log = 0, []
    if acc.is_main_process:
        checkpoint.clean_partial(ckpt_dir)
    if resume:
        found = checkpoint.latest_valid(ckpt_dir, acc.print)
        if found is None:
            acc.print(f"--resume: no checkpoint in {ckpt_dir}; starting from step 0")
        else:
            state = checkpoint.load(found, raw, optimizer, scheduler)
            differ = {k for k, v in state.get("config", {}).items()
                      if k not in ("eval_every", "log_every", "save_every", "keep_checkpoints", "output", "max_minutes",
                                   "threads", "adaptive_threads", "gradient_checkpointing")
                      and to_dict(cfg).get(k) != v}
            if differ:
                raise StepError(f"--resume: the config differs from the checkpoint's in {sorted(differ)}")
            start, rows_log = state["step"], state.get("log", [])
            acc.print(f"resumed from {found} at step {start}")
    elif acc.is_main_process and ckpt_dir.exists():
        shutil.rmtree(ckpt_dir)  # a fresh run never mixes with an old one's checkpoints
    acc.wait_for_everyone()

    world, rank = acc.num_processes, acc.process_index
    per_rank = cfg.micro_batch_size * cfg.grad_accum
    global_batch = per_rank * world
    order = Order(len(train_ds), cfg.seed)
    fault = int(os.environ.get(FAULT_ENV, "0") or 0)
    base_hash = sha256_files(base)

    def evaluate() -> float | None:
        if val_ds is None or len(val_ds) == 0:
            return None
        model.eval()
        n = min(len(val_ds), cfg.eval_batches * cfg.micro_batch_size)
        mine = list(range(rank, n, world))
        loss_sum = torch.zeros((), device=acc.device)
        tokens = torch.zeros((), device=acc.device)
        with torch.no_grad():
            for i in range(0, len(mine), cfg.micro_batch_size):
                ids, labels = _batch(val_ds, mine[i:i + cfg.micro_batch_size], acc.device)
                loss_sum += trained_loss_sum(model, ids, labels).float()
                tokens += (labels[:, 1:] != -100).sum()
        loss_sum, tokens = acc.reduce(loss_sum, "sum"), acc.reduce(tokens, "sum")
        model.train()
        return float(loss_sum / tokens.clamp(min=1))

    def save(step: int) -> None:
        acc.wait_for_everyone()
        if acc.is_main_process:
            checkpoint.save(ckpt_dir, step, raw, optimizer, scheduler,
                            {"config": to_dict(cfg), "log": rows_log}, cfg.keep_checkpoints)
        acc.wait_for_everyone()

    model.train()
    t0 = time.perf_counter()
    if start == 0 and cfg.eval_at_start:
        val = evaluate()  # the base model's validation loss, the curve's starting point
        if val is not None:
            rows_log.append({"step": 0, "val_loss": val})
            acc.print(json.dumps(rows_log[-1]))
    # On a CPU, threads follow what else runs (model/threads.py): with other work on the cores, a
    # second thread left waiting at every barrier made a step 2-3x slower than one thread.
    threads = ThreadPolicy(cfg.threads, adaptive=cfg.adaptive_threads) if acc.device.type == "cpu" else None
    for step in range(start, cfg.max_steps):
        if threads is not None:
            threads.apply()
        rows = order.rows(step * global_batch, global_batch)
        n_tokens = max(1, _trained_tokens(train_ds, rows))  # the whole global batch's, same on every rank
        mine = rows[rank * per_rank:(rank + 1) * per_rank]
        total = 0.0
        for m in range(cfg.grad_accum):
            # Dropout seeded by the micro-batch's place in the global batch, not by the process layout.
            torch.manual_seed(cfg.seed * 1_000_003 + step * 10_007 + rank * cfg.grad_accum + m)
            ids, labels = _batch(train_ds, mine[m * cfg.micro_batch_size:(m + 1) * cfg.micro_batch_size], acc.device)
            sync = m == cfg.grad_accum - 1
            ctx = acc.no_sync(model) if not sync else contextlib.nullcontext()
            with ctx:
                with acc.autocast():
                    loss_ = trained_loss_sum(model, ids, labels) / n_tokens
                # DDP averages gradients over processes; scale so the result is sum / n_tokens.
                acc.backward(loss_ * world)
            total += float(loss_.detach())
        grad_norm = acc.clip_grad_norm_(params, cfg.max_grad_norm) if cfg.max_grad_norm > 0 else None
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss = float(acc.reduce(torch.tensor(total, device=acc.device), "sum"))
        done = step + 1
        if not math.isfinite(loss):
            # Nothing of this step is saved: the last checkpoint is the last good state.
            raise StepError(f"training diverged at step {done}: the loss is {loss}; the last checkpoint "
                            f"({checkpoint.latest(ckpt_dir) or 'none'}) holds the last good weights. "
                            "Lower the learning rate and resume.")
        row = {"step": done, "loss": loss, "lr": scheduler.get_last_lr()[0], "tokens": n_tokens,
               "elapsed_s": round(time.perf_counter() - t0, 3)}
        if grad_norm is not None:
            row["grad_norm"] = float(grad_norm)
        if done % cfg.eval_every == 0 or done == cfg.max_steps:
            val = evaluate()
            if val is not None:
                row["val_loss"] = val
                if rising(rows_log + [row], cfg.diverge_patience):
                    rows_log.append(row)
                    raise StepError(f"training stopped at step {done}: the validation loss rose for "
                                    f"{cfg.diverge_patience} evaluations in a row ({_val_tail(rows_log, cfg)}); "
                                    "the checkpoints before the rise are kept")
        rows_log.append(row)
        if done % cfg.log_every == 0 or "val_loss" in row:
            acc.print(json.dumps(row))
        if done % cfg.save_every == 0 or done == cfg.max_steps:
            save(done)
            if acc.is_main_process:
                write_json(out / "log.json", rows_log)
                plot(rows_log, out / "loss.png")
        if fault and done == fault:
            os.kill(os.getpid(), signal.SIGKILL)
        out_of_time = cfg.max_minutes > 0 and time.perf_counter() - t0 > cfg.max_minutes * 60
        if out_of_time and done < cfg.max_steps:
            acc.print(f"the time budget ({cfg.max_minutes:g} min) is spent at step {done} of {cfg.max_steps}: "
                      "saving and finishing; --resume with a larger budget goes on from here")
            if "val_loss" not in row and (val := evaluate()) is not None:
                row["val_loss"] = val
                acc.print(json.dumps(row))
            if done % cfg.save_every:
                save(done)
            break

    acc.wait_for_everyone()
    result = {}
    if acc.is_main_process:
        result = finish(cfg, raw, tok, base, base_hash, fim_ids, rows_log, out, acc.num_processes)
    acc.wait_for_everyone()
    acc.end_training()
    return result


def finish(cfg, raw, tok, base: Path, base_hash: str, fim_ids, rows_log, out: Path, processes: int = 1) -> dict:
    """out/final: the adapter (LoRA) or the whole model (full), the tokenizer with the FIM tokens,
    and train.json (config, base, data report) for `wingman export`."""
    final, tmp = out / "final", out / f".final.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    if cfg.mode == "lora":
        # The embedding was resized, which peft would take as a reason to save all of it; the
        # trainable FIM rows are saved anyway, and the loader resizes the base before applying.
        raw.save_pretrained(tmp, save_embedding_layers=False)
    else:
        raw.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if cfg.mode == "lora" and cfg.init_adapter and cfg.init_stack:
        from training.stack import fold

        fold(warm_start_adapter(cfg.init_adapter), tmp)  # one adapter on the base, as the engine loads
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    summary = {
        "mode": cfg.mode, "base_model": cfg.base_model, "base_model_path": str(base), "base_model_sha256": base_hash,
        "fim_token_ids": fim_ids, "steps": rows_log[-1]["step"] if rows_log else 0, "processes": processes,
        "final_loss": next((r["loss"] for r in reversed(rows_log) if "loss" in r), None),
        "initial_val_loss": next((r["val_loss"] for r in rows_log if r["step"] == 0 and "val_loss" in r), None),
        "final_val_loss": next((r["val_loss"] for r in reversed(rows_log) if "val_loss" in r), None),
        "config": to_dict(cfg), "data": read_json(Path(cfg.data) / "report.json", {}),
    }
    write_json(out / "train.json", summary)
    write_json(out / "log.json", rows_log)
    plot(rows_log, out / "loss.png")
    return summary
