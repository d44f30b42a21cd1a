"""Per-repository adapters (`wingman learn`): where they live, what they were trained on, and
whether they may still be loaded.

They live in the cache folder, `$WINGMAN_HOME/adapters/<key>/`, keyed by the repository's real
path, never inside the user's repository. Each holds the peft adapter and `learn.json`: the
repository, the hashes of the base model and of the shipped adapter it was trained from, and the
before/after table. An adapter made from another base model or another shipped adapter (a model
update) is refused at load time; the user is told to run `wingman learn` again.

Here, in the model layer, because three layers read it: training installs, the server loads and
swaps, the `wingman` command lists and removes (the server and training never import each other).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from model.paths import wingman_home
from model.pull import sha256_of

LEARN_JSON = "learn.json"


def adapters_dir() -> Path:
    return wingman_home() / "adapters"


def repo_key(root: str | Path) -> str:
    """A folder name for the repository: readable, and unique by its resolved path."""
    real = Path(root).expanduser().resolve()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", real.name or "root").strip("-")[:40] or "repo"
    return f"{name}-{hashlib.sha256(str(real).encode()).hexdigest()[:12]}"


def adapter_dir(root: str | Path) -> Path:
    return adapters_dir() / repo_key(root)


def weights_hash(directory: Path) -> str:
    """One sha256 over a checkpoint's weight files, sorted by name (as training/train.py records it).
    Cached by (path, size, mtime): the base model is 540 MB, read once, not at every start."""
    files = sorted(p for p in Path(directory).glob("*") if p.suffix in (".safetensors", ".bin", ".gguf"))
    if not files:
        return ""
    stamp = json.dumps([[str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns] for p in files])
    cache_file = wingman_home() / "hash-cache.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache, dict) and stamp in cache:
        return cache[stamp]
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    digest = h.hexdigest()
    try:
        cache = cache if isinstance(cache, dict) else {}
        cache[stamp] = digest
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text(json.dumps(dict(list(cache.items())[-16:])))
        os.replace(tmp, cache_file)
    except OSError:
        pass
    return digest


def adapter_hash(adapter: Path | None) -> str:
    """The shipped adapter's identity: its weights file."""
    if adapter is None:
        return ""
    f = Path(adapter) / "adapter_model.safetensors"
    return sha256_of(f) if f.is_file() else ""


@dataclass
class Provenance:
    base_model_sha256: str
    shipped_adapter_sha256: str


def current_provenance(base_dir: Path | None = None) -> Provenance:
    """What an adapter must have been trained on to load today: the pulled base and the shipped adapter."""
    from model.loading import shipped_adapter

    if base_dir is None:
        from model.pull import default_model_dir

        base_dir = default_model_dir()
    return Provenance(weights_hash(base_dir), adapter_hash(shipped_adapter()))


def read_meta(directory: Path) -> dict:
    try:
        data = json.loads((Path(directory) / LEARN_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def incompatible(meta: dict, now: Provenance) -> str | None:
    """Why an adapter must not load on today's default model, or None when it may."""
    if not meta:
        return "it has no learn.json (not made by `wingman learn`)"
    if meta.get("base_model_sha256") != now.base_model_sha256:
        return "it was trained on another base model"
    if meta.get("shipped_adapter_sha256") != now.shipped_adapter_sha256:
        return "it was trained from another version of Wingman's shipped adapter"
    return None


@dataclass
class Installed:
    key: str
    path: Path
    meta: dict

    @property
    def repository(self) -> str:
        return self.meta.get("repository", "?")

    def size_mib(self) -> float:
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()) / 2**20


def installed() -> list[Installed]:
    root = adapters_dir()
    if not root.is_dir():
        return []
    return [Installed(p.name, p, read_meta(p)) for p in sorted(root.iterdir())
            if p.is_dir() and not p.name.startswith(".") and (p / "adapter_config.json").is_file()]


def for_repository(root: str | Path) -> Installed | None:
    d = adapter_dir(root)
    return Installed(d.name, d, read_meta(d)) if (d / "adapter_config.json").is_file() else None


def install(source: Path, root: str | Path, meta: dict) -> Path:
    """Copy a trained adapter into the cache atomically: a reader sees the old one or the new one."""
    dest = adapter_dir(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    (tmp / LEARN_JSON).write_text(json.dumps(meta, indent=1, default=str))
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        os.replace(dest, old)
    os.replace(tmp, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def remove(which: str) -> list[Path]:
    """Remove by key, by repository path, or "all"; the removed folders."""
    gone = []
    for item in installed():
        if which == "all" or which == item.key or (
                Path(which).expanduser().exists() and item.key == repo_key(which)):
            shutil.rmtree(item.path)
            gone.append(item.path)
    return gone
