"""The workspace index: which source files exist, so an import can be resolved to a file whose
definitions go into the completion's context (model/tasks/retrieval.py).

- Off the event loop: the walk runs in a thread of its own, started when the workspace is known;
  requests meanwhile see what has been indexed so far.
- Incremental: a file opened, saved, created or deleted updates its own entry (`touch`); a file
  changed since it was read is read again (its size and mtime are the key).
- Only what the user allows: no file that the privacy patterns (server/privacy.py, built-ins
  included) or a `.gitignore` on the way exclude, nothing under the usual build and dependency
  folders, and no symlinked folder (a loop, or a way out of the workspace).
- Bounded: at most `max_files` entries (each a path and a module name), files over `max_bytes`
  or holding a NUL byte in their first block (binary) are skipped, and the texts read are kept
  in a small LRU. What cannot be read (permissions, deleted while indexing) is skipped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pathspec

log = logging.getLogger(__name__)

SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".nox",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", "site-packages", ".eggs"})
SOURCE_EXTS = (".py", ".pyi")
MAX_GITIGNORE_BYTES = 64 * 1024


def module_name(rel: str) -> str:
    """`src/pkg/mod.py` -> `pkg.mod`; `pkg/__init__.py` -> `pkg`."""
    parts = rel.replace("\\", "/").rsplit(".", 1)[0].split("/")
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


class RepoIndex:
    def __init__(self, root: str | Path, private: Callable[[str], bool] = lambda p: False,
                 max_files: int = 20_000, max_bytes: int = 256 * 1024, cache_files: int = 64) -> None:
        self.root = Path(root)
        self.private = private
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.cache_files = cache_files
        self.modules: dict[str, str] = {}  # module name -> path relative to the root
        self.files: set[str] = set()
        self.skipped = 0  # unreadable, binary, too big, private or ignored
        self.truncated = False  # more files than max_files: the rest are not indexed
        self.done = threading.Event()
        self.scan_s = 0.0
        self._texts: OrderedDict[str, tuple[tuple[int, int], str]] = OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def name(self) -> str:
        return self.root.name

    # ---- the walk -------------------------------------------------------------------------
    def start(self) -> "RepoIndex":
        self._thread = threading.Thread(target=self._scan, name="wingman-index", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _scan(self) -> None:
        t0 = time.perf_counter()
        try:
            self.scan()
        except Exception as exc:  # noqa: BLE001 - an index that failed leaves completions without it
            log.warning("workspace index of %s stopped: %r", self.root, exc)
        finally:
            self.scan_s = time.perf_counter() - t0
            self.done.set()

    def scan(self) -> None:
        ignores: list[tuple[str, pathspec.PathSpec]] = []  # (folder relative to the root, its .gitignore)
        for folder, dirs, names in os.walk(self.root, followlinks=False, onerror=lambda e: None):
            if self._stop.is_set():
                return
            rel_dir = os.path.relpath(folder, self.root).replace("\\", "/")
            rel_dir = "" if rel_dir == "." else rel_dir
            if ".gitignore" in names:
                spec = self._gitignore(Path(folder) / ".gitignore")
                if spec is not None:
                    ignores.append((rel_dir, spec))
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")
                             and not os.path.islink(os.path.join(folder, d))
                             and not self._ignored(f"{rel_dir}/{d}/".lstrip("/"), ignores))
            for n in sorted(names):
                if not n.endswith(SOURCE_EXTS):
                    continue
                rel = f"{rel_dir}/{n}".lstrip("/")
                if self._ignored(rel, ignores) or self.private(str(self.root / rel)):
                    self.skipped += 1
                    continue
                if len(self.files) >= self.max_files:
                    self.truncated = True
                    return
                self._add(rel)

    def _gitignore(self, path: Path) -> pathspec.PathSpec | None:
        try:
            with open(path, "rb") as f:
                raw = f.read(MAX_GITIGNORE_BYTES)
            return pathspec.GitIgnoreSpec.from_lines(raw.decode("utf-8", "replace").splitlines())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _ignored(rel: str, ignores: list[tuple[str, pathspec.PathSpec]]) -> bool:
        for base, spec in ignores:
            if base and not rel.startswith(base + "/"):
                continue
            if spec.match_file(rel[len(base) + 1:] if base else rel):
                return True
        return False

    def _add(self, rel: str) -> None:
        with self._lock:
            self.files.add(rel)
            if rel.endswith(".py"):
                self.modules.setdefault(module_name(rel), rel)

    # ---- incremental updates --------------------------------------------------------------
    def touch(self, path: str) -> None:
        """A file was opened, saved, created or deleted: update its entry."""
        try:
            rel = Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except (ValueError, OSError):
            return  # outside the workspace
        if not rel.endswith(SOURCE_EXTS) or any(p in SKIP_DIRS for p in rel.split("/")[:-1]):
            return
        with self._lock:
            self._texts.pop(rel, None)
        if os.path.isfile(self.root / rel) and not self.private(str(self.root / rel)):
            if rel not in self.files and len(self.files) < self.max_files:
                self._add(rel)
        else:
            with self._lock:
                self.files.discard(rel)
                if self.modules.get(module_name(rel)) == rel:
                    del self.modules[module_name(rel)]

    # ---- lookups --------------------------------------------------------------------------
    def resolve(self, module: str, from_rel: str = "") -> str | None:
        """The file a module name refers to (relative imports from `from_rel`), or None."""
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            here = module_name(from_rel).split(".")[:-1] if from_rel else []
            if from_rel.endswith("__init__.py"):
                here = module_name(from_rel).split(".")
            base = here[: len(here) - (dots - 1)] if dots - 1 <= len(here) else []
            module = ".".join(base + ([module.lstrip(".")] if module.lstrip(".") else []))
        with self._lock:
            return self.modules.get(module)

    def read(self, rel: str) -> str | None:
        """The file's text (cached while its size and mtime stay), or None when it cannot be read."""
        full = self.root / rel
        try:
            st = full.stat()
            if st.st_size > self.max_bytes:
                return None
            key = (st.st_size, st.st_mtime_ns)
            with self._lock:
                hit = self._texts.get(rel)
                if hit is not None and hit[0] == key:
                    self._texts.move_to_end(rel)
                    return hit[1]
            with open(full, "rb") as f:
                raw = f.read(self.max_bytes + 1)
        except OSError:
            return None  # unreadable, or deleted since it was indexed
        if b"\0" in raw[:4096]:
            return None  # binary
        text = raw.decode("utf-8", "replace")
        with self._lock:
            self._texts[rel] = (key, text)
            while len(self._texts) > self.cache_files:
                self._texts.popitem(last=False)
        return text

    def memory_bytes(self) -> int:
        """An estimate of what the index holds: its paths, module names and cached texts."""
        with self._lock:
            return (sum(len(p) + 60 for p in self.files) + sum(len(m) + len(p) + 120 for m, p in self.modules.items())
                    + sum(len(t) + 100 for _k, t in self._texts.values()))
