"""Files between steps: JSONL shards written and read one record at a time, and atomic JSON.

A step never holds its corpus in memory: it streams records from the previous step's shards and
appends to its own. A line that does not parse is skipped and counted, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically: a temporary file in the same directory, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: str | Path, default: Any = None) -> Any:
    path = Path(path)
    if not path.exists():
        return default
    return json.loads(path.read_text())


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ShardWriter:
    """Append records to `<dir>/<prefix>-00000.jsonl`, starting a new shard past `shard_bytes`."""

    def __init__(self, directory: str | Path, prefix: str = "data", shard_bytes: int = 64 << 20):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob(f"{prefix}-*.jsonl"):
            old.unlink()
        self.prefix, self.shard_bytes = prefix, shard_bytes
        self.index, self.size, self.count = 0, 0, 0
        self._f = None

    def write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        data = line.encode("utf-8", "surrogatepass")
        if self._f is None or (self.size and self.size + len(data) > self.shard_bytes):
            self._open_next()
        self._f.write(data)
        self.size += len(data)
        self.count += 1

    def _open_next(self) -> None:
        if self._f is not None:
            self._f.close()
            self.index += 1
        self._f = open(self.dir / f"{self.prefix}-{self.index:05d}.jsonl", "wb")
        self.size = 0

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shards(directory: str | Path, prefix: str = "data") -> list[Path]:
    return sorted(Path(directory).glob(f"{prefix}-*.jsonl"))


def iter_records(directory: str | Path, prefix: str = "data", errors: Counter | None = None) -> Iterator[dict]:
    """Records of every shard in order; a corrupt line is counted in errors['corrupt_record']."""
    paths = shards(directory, prefix)
    if not paths:
        raise FileNotFoundError(f"no {prefix}-*.jsonl shards in {directory} (run the previous step first?)")
    for path in paths:
        with open(path, "rb") as f:
            for raw in f:
                try:
                    record = json.loads(raw)
                    if not isinstance(record, dict):
                        raise ValueError("not an object")
                except ValueError:
                    if errors is not None:
                        errors["corrupt_record"] += 1
                    continue
                yield record


class AppendShards:
    """Shards a resumable step appends to. `position()` flushes and fsyncs, and names the point a
    resumed run goes back to; `rewind(pos)` drops everything written after it (a package that failed
    half-way, or the unfinished package of a killed run)."""

    def __init__(self, directory: str | Path, prefix: str = "data", shard_bytes: int = 64 << 20,
                 start: tuple[int, int] | None = None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prefix, self.shard_bytes = prefix, shard_bytes
        self._f = None
        self.index, self.size = 0, 0
        self.rewind(start or (0, 0))

    def _path(self, index: int) -> Path:
        return self.dir / f"{self.prefix}-{index:05d}.jsonl"

    def rewind(self, pos: tuple[int, int]) -> None:
        if self._f is not None:
            self._f.close()
        index, size = pos
        for old in self.dir.glob(f"{self.prefix}-*.jsonl"):
            if int(old.stem.rsplit("-", 1)[1]) > index:
                old.unlink()
        path = self._path(index)
        with open(path, "ab") as f:
            f.truncate(size)
        self._f = open(path, "ab")
        self.index, self.size = index, size

    def write(self, record: dict) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
        if self.size and self.size + len(data) > self.shard_bytes:
            self._f.close()
            self.index, self.size = self.index + 1, 0
            self._f = open(self._path(self.index), "ab")
        self._f.write(data)
        self.size += len(data)

    def position(self) -> tuple[int, int]:
        self._f.flush()
        os.fsync(self._f.fileno())
        return self.index, self.size

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None

    def __enter__(self) -> "AppendShards":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Ledger:
    """One JSON line per finished unit (a package), fsynced: what a resumed run skips."""

    def __init__(self, path: str | Path, resume: bool):
        self.path = Path(path)
        self.entries: list[dict] = []
        if not resume:
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            good = 0
            with open(self.path, "rb") as f:
                for raw in f:
                    try:
                        self.entries.append(json.loads(raw))
                    except ValueError:
                        break  # a torn last line: everything after it is redone
                    good += len(raw)
            with open(self.path, "ab") as f:
                f.truncate(good)
        self.done = {e["unit"]: e for e in self.entries}

    def last_position(self) -> tuple[int, int] | None:
        return tuple(self.entries[-1]["position"]) if self.entries else None

    def append(self, entry: dict) -> None:
        with open(self.path, "ab") as f:
            f.write((json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode())
            f.flush()
            os.fsync(f.fileno())
        self.entries.append(entry)
        self.done[entry["unit"]] = entry


def peak_rss_mib() -> float:
    """The largest resident set of this process so far (Linux reports KiB)."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
