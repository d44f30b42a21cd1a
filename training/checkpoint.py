"""Atomic training checkpoints: written to a temporary directory, fsynced, renamed into place,
then `latest` is switched atomically. A kill at any moment leaves the previous checkpoint whole.

A checkpoint holds the trainable tensors only (LoRA: the adapter and the FIM token rows; full: all
weights), the optimizer and scheduler state, the step and the log so far.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.pull import sha256_of


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().to("cpu").contiguous().clone() for n, p in model.named_parameters() if p.requires_grad}


def save(root: Path, step: int, model, optimizer, scheduler, state: dict, keep: int = 2) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:07d}"
    tmp = root / f".step-{step:07d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(trainable_state(model), tmp / "trainable.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, tmp / "optim.pt")
    (tmp / "state.json").write_text(json.dumps({"step": step, **state}, default=str))
    # Hashes of what was written: a checkpoint damaged later (a full disk, a bad copy) is detected
    # at resume, and the one before it is used instead.
    (tmp / "manifest.json").write_text(json.dumps({f.name: sha256_of(f) for f in sorted(tmp.iterdir())}))
    for f in tmp.iterdir():
        _fsync_file(f)
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    latest_tmp = root / f".latest.tmp-{os.getpid()}"
    latest_tmp.write_text(final.name)
    _fsync_file(latest_tmp)
    os.replace(latest_tmp, root / "latest")
    _fsync_dir(root)
    for old in sorted(root.glob("step-*"))[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def verify(path: Path) -> str | None:
    """Why the checkpoint cannot be trusted, or None when every file matches its hash."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        return f"no readable manifest ({exc.__class__.__name__})"
    for name, digest in manifest.items():
        f = path / name
        if not f.is_file():
            return f"{name} is missing"
        if sha256_of(f) != digest:
            return f"{name} does not match its hash"
    return None


def latest_valid(root: Path, say=print) -> Path | None:
    """The newest checkpoint whose files are intact; each damaged one is named and skipped."""
    if not root.is_dir():
        return None
    pointer = root / "latest"
    named = root / pointer.read_text().strip() if pointer.exists() else None
    candidates = sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True)
    if named is not None and named in candidates:
        candidates.remove(named)
        candidates.insert(0, named)
    for path in candidates:
        problem = verify(path)
        if problem is None:
            return path
        say(f"checkpoint {path.name} is damaged ({problem}); trying the one before it")
    return None


def latest(root: Path) -> Path | None:
    """The newest complete checkpoint (the one `latest` names, else the highest whole one)."""
    if not root.is_dir():
        return None
    pointer = root / "latest"
    if pointer.exists():
        path = root / pointer.read_text().strip()
        if (path / "state.json").exists():
            return path
    whole = [p for p in sorted(root.glob("step-*")) if (p / "state.json").exists()]
    return whole[-1] if whole else None


def clean_partial(root: Path) -> None:
    for tmp in root.glob(".step-*.tmp-*") if root.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)


def load(path: Path, model, optimizer, scheduler) -> dict:
    tensors = load_file(path / "trainable.safetensors")
    params = dict(model.named_parameters())
    missing = [n for n, p in params.items() if p.requires_grad and n not in tensors]
    if missing:
        raise RuntimeError(f"checkpoint {path} lacks trainable tensors {missing[:5]} (a different mode or config?)")
    with torch.no_grad():
        for name, t in tensors.items():
            params[name].copy_(t.to(params[name].device, params[name].dtype))
    opt = torch.load(path / "optim.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(opt["optimizer"])
    scheduler.load_state_dict(opt["scheduler"])
    return json.loads((path / "state.json").read_text())
