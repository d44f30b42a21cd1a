"""`wingman learn`: collect → hold out → train → check → install on a win → report.

Everything the run writes is in the cache folder: its work under `$WINGMAN_HOME/learn/<key>/`, the
installed adapter under `$WINGMAN_HOME/adapters/<key>/` (model/repo_adapters.py). Nothing is
written inside the repository and nothing leaves the machine (no step here has network code; the
model is the one already pulled).

A killed run installs nothing: the adapter is copied into place in one rename after the check, so
whatever serves goes on serving. `resume: true` continues the training from its last checkpoint
(the latest one is kept after a finished run too: `--resume --minutes 30` trains on from there).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from training.config import StepError
from training.learn import check
from training.learn.config import LearnConfig
from training.learn.files import collect
from training.learn.split import split

Say = Callable[[str, str, float | None], None]  # (stage, message, fraction of the whole run or None)


def _quiet(stage: str, message: str, fraction: float | None = None) -> None:
    print(f"[{stage}] {message}", flush=True)


def work_dir(root: Path) -> Path:
    from model.paths import wingman_home
    from model.repo_adapters import repo_key

    return wingman_home() / "learn" / repo_key(root)


def refuse_small(cfg: LearnConfig, n_files: int, n_bytes: int, what: str) -> None:
    if n_files < cfg.min_files or n_bytes < cfg.min_bytes:
        raise StepError(
            f"{what} has {n_files} source files and {n_bytes / 1000:.0f} KB after filtering; `wingman learn` needs "
            f"at least {cfg.min_files} files and {cfg.min_bytes / 1000:.0f} KB, or a tenth held out is too little "
            "to tell a better model from luck. Nothing was trained.")


def _shipped(cfg: LearnConfig) -> Path:
    from training.train import warm_start_adapter

    return warm_start_adapter(cfg.init_adapter)


def _rank(adapter: Path) -> int:
    return int(json.loads((adapter / "adapter_config.json").read_text()).get("r", 16))


def _threads(cfg: LearnConfig) -> int:
    return cfg.threads or max(1, (os.cpu_count() or 2) - 1)


def _engine(cfg: LearnConfig, adapter: Path | None):
    from model.config import EngineConfig

    model = cfg.base_model if cfg.base_model not in ("default", "base") else "default"
    return EngineConfig(model=model, adapter=str(adapter) if adapter else None, quantize=cfg.quantize,
                        threads=_threads(cfg))


def learn(cfg: LearnConfig, is_private: Callable[[str], bool] = lambda p: False, say: Say = _quiet) -> dict:
    from model import repo_adapters
    from training import train
    from training.config import TrainConfig, resolve_base_model
    from training.io import peak_rss_mib, write_json

    t0 = time.monotonic()
    root = Path(cfg.repo).expanduser().resolve()
    say("collect", f"reading {root}", 0.0)
    found = collect(root, is_private, cfg.max_files, cfg.max_file_bytes)
    how = "git-tracked files" if found.git else "a directory walk (not a git repository)"
    say("collect", f"{len(found.files)} source files, {found.bytes / 1000:.0f} KB from {how}"
        + (f"; {found.sampled}" if found.sampled else ""), 0.02)
    if not found.files:
        why = ", ".join(f"{k} {v}" for k, v in sorted(found.counts.items()) if v and k != "kept") or "no files at all"
        raise StepError(f"{root} has no source files to learn from ({why}). Nothing was trained.")
    refuse_small(cfg, len(found.files), found.bytes, str(root))
    parts = split(found.files, cfg.heldout_share, cfg.min_heldout, cfg.val_share, cfg.near_threshold)
    if len(parts.heldout_python) < cfg.min_heldout:
        raise StepError(f"{root} has {len(parts.heldout_python)} Python files to hold out; the check needs "
                        f"{cfg.min_heldout} (it cuts holes in Python). Nothing was trained.")
    if not parts.train:
        raise StepError(f"{root}: no training files are left once the held-out files and their copies are set "
                        f"aside ({dict(parts.counts)}). Nothing was trained.")
    say("split", f"{len(parts.train)} files train, {len(parts.validation)} validate, {len(parts.heldout)} held out "
        f"({len(parts.heldout_python)} Python); {len(parts.dropped)} training files dropped as copies of held-out ones",
        0.04)

    work = work_dir(root)
    work.mkdir(parents=True, exist_ok=True)
    shipped = _shipped(cfg)
    base_dir = resolve_base_model(cfg.base_model)
    provenance = {"base_model_sha256": repo_adapters.weights_hash(base_dir),
                  "shipped_adapter_sha256": repo_adapters.adapter_hash(shipped)}

    # The check's before: the model that serves now, on the held-out files, before any training.
    heldout = check.HeldoutRepo(root, [f.path for f in parts.heldout_python], name=root.name)
    say("check", f"scoring the current model on {len(heldout.files)} held-out files", 0.05)
    before = check.evaluate(_engine(cfg, shipped), heldout,
                            cfg.eval_limit, cfg.eval_seed, cfg.budget)

    accepted = []
    if cfg.use_acceptance_log:
        from training.learn.data import accepted_samples

        accepted = accepted_samples(root, parts)
    from transformers import AutoTokenizer

    from training.learn.data import build

    tok = AutoTokenizer.from_pretrained(base_dir)
    say("data", "building training samples" + (f" (+{len(accepted)} accepted suggestions, x{cfg.accept_weight})"
                                                 if accepted else ""), 0.1)
    packed = build(parts, root, work, tok, cfg.seq_len, cfg.fim_per_file, cfg.seed, cfg.budget, accepted,
                   cfg.accept_weight)
    tcfg = TrainConfig(
        data=str(work / "pack"), output=str(work / "train"), base_model=cfg.base_model, mode="lora",
        init_adapter=str(shipped), lora_r=_rank(shipped), micro_batch_size=cfg.micro_batch_size,
        grad_accum=cfg.grad_accum, lr=cfg.lr, warmup_steps=cfg.warmup_steps, max_steps=cfg.max_steps,
        eval_every=cfg.eval_every, save_every=cfg.save_every, eval_batches=4, max_minutes=cfg.minutes, keep_checkpoints=1,
        threads=_threads(cfg), adaptive_threads=True, seed=cfg.seed, cpu=True,
        gradient_checkpointing=cfg.gradient_checkpointing)
    say("train", f"training for at most {cfg.minutes:g} min at low priority ({_threads(cfg)} threads)", 0.12)
    t_train = time.monotonic()
    summary = train.run(tcfg, resume=cfg.resume)
    train_s = time.monotonic() - t_train
    final = work / "train" / "final"
    say("train", f"{summary.get('steps')} steps in {train_s / 60:.1f} min; validation loss "
        f"{summary.get('initial_val_loss')} -> {summary.get('final_val_loss')}", 0.8)

    say("check", "scoring the trained adapter on the same held-out holes", 0.82)
    after = check.evaluate(_engine(cfg, final), heldout, cfg.eval_limit, cfg.eval_seed, cfg.budget)
    won = check.wins(before, after, cfg.min_gain)
    install = cfg.install == "always" or (cfg.install == "win" and won)
    em0, es0 = check.headline(before)
    em1, es1 = check.headline(after)
    result = {
        "repository": str(root), "key": repo_adapters.repo_key(root),
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git": found.git, "sampled": found.sampled, "collect": dict(found.counts), "split": dict(parts.counts),
        "dropped_as_heldout_copies": parts.dropped[:200], "heldout_files": heldout.files,
        "accepted_suggestions": len(accepted), "samples": packed.get("samples", {}),
        "base_model": cfg.base_model, **provenance, "shipped_adapter": str(shipped),
        "training": {"steps": summary.get("steps"), "minutes_budget": cfg.minutes, "train_s": round(train_s, 1),
                     "initial_val_loss": summary.get("initial_val_loss"), "final_val_loss": summary.get("final_val_loss")},
        "before": {k: {m: v for m, v in r.items() if m != "samples"} for k, r in before.items()},
        "after": {k: {m: v for m, v in r.items() if m != "samples"} for k, r in after.items()},
        "headline": {"before": {"exact_match": em0, "edit_similarity": es0},
                     "after": {"exact_match": em1, "edit_similarity": es1}},
        "won": won, "exact_gain_holes": check.exact_count(after) - check.exact_count(before), "installed": None, "wall_s": round(time.monotonic() - t0, 1), "peak_rss_mib": peak_rss_mib(),
        "config": asdict(cfg),
    }
    if install:
        result["installed"] = str(repo_adapters.adapter_dir(root))
        repo_adapters.install(final, root, result)
    write_json(work / "report.json", result)
    for side, r in (("before", before), ("after", after)):
        write_json(work / f"samples-{side}.json", {k: v["samples"] for k, v in r.items()})
    result["table"] = check.table(before, after)
    verdict = (f"installed: {result['installed']}" if install else
               "not installed: it did not beat the current model on the held-out files" if not won else
               "not installed (install: never)")
    say("done", verdict, 1.0)
    return result
