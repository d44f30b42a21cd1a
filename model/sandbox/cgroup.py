"""A per-run control group: the memory and process limits of the whole process tree, and a way to
kill every process in it however it detached itself (setsid, double fork).

cgroup v1 (separate `memory` and `pids` hierarchies, as on this machine) or v2 (one unified
hierarchy) where its `memory` and `pids` controllers are enabled. Each run gets a child of the
group this process is in, so the limits nest under whatever limits the server itself runs with.
Creating one needs write access to that group: root, or a delegated v2 subtree.
"""

from __future__ import annotations

import functools
import os
import signal
import time
import uuid
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


def _own_groups() -> dict[str, str]:
    """controller (or "" for v2) -> this process's group path, from /proc/self/cgroup."""
    groups = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                groups[c] = path
    except OSError:
        pass
    return groups


@functools.lru_cache(maxsize=None)
def parents() -> dict[str, Path] | None:
    """{"memory": dir, "pids": dir} under which a run's group can be made, or None."""
    own = _own_groups()
    v1 = {c: ROOT / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own}
    if len(v1) == 2 and all((d / "cgroup.procs").exists() for d in v1.values()):
        return v1 if all(os.access(d, os.W_OK) for d in v1.values()) else None
    if "" in own:  # v2: both controllers must be on for the children of our group
        d = ROOT / own[""].lstrip("/")
        try:
            on = (d / "cgroup.subtree_control").read_text().split()
        except OSError:
            return None
        if {"memory", "pids"} <= set(on) and os.access(d, os.W_OK):
            return {"memory": d, "pids": d}
    return None


class Group:
    """One run's group: `join_paths` are the cgroup.procs files the child writes its pid to."""

    def __init__(self, memory_bytes: int, processes: int):
        base = parents()
        if base is None:
            raise OSError("no writable cgroup with memory and pids controllers")
        name = f"wingman-sandbox-{uuid.uuid4().hex[:12]}"
        self.dirs = list(dict.fromkeys(d / name for d in base.values()))  # one dir on v2, two on v1
        self.v2 = len(self.dirs) == 1
        made = []
        try:
            for d in self.dirs:
                d.mkdir()
                made.append(d)
            mem, pids = (self.dirs[0], self.dirs[0]) if self.v2 else self.dirs
            if self.v2:
                (mem / "memory.max").write_text(str(memory_bytes))
                if (mem / "memory.swap.max").exists():
                    (mem / "memory.swap.max").write_text("0")
            else:
                (mem / "memory.limit_in_bytes").write_text(str(memory_bytes))
                if (mem / "memory.memsw.limit_in_bytes").exists():  # no escape into swap
                    try:
                        (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
                    except OSError:
                        pass
            (pids / "pids.max").write_text(str(processes))
        except OSError:
            for d in made:
                _rmdir(d)
            raise
        self.memory_dir, self.pids_dir = mem, pids
        self.join_paths = [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.pids_dir / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL everything in the group until it is empty (a fork bomb races the loop, but
        pids.max bounds it and each round kills all that exist)."""
        deadline = time.monotonic() + 5
        while (pids := self.pids()) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)

    def memory_hit(self) -> bool:
        """True when the group reached its memory limit (the kernel then reclaimed or killed)."""
        try:
            if self.v2:
                events = dict(line.split() for line in (self.memory_dir / "memory.events").read_text().splitlines())
                return int(events.get("max", 0)) > 0 or int(events.get("oom_kill", 0)) > 0
            oom = dict(line.split() for line in (self.memory_dir / "memory.oom_control").read_text().splitlines())
            return int(oom.get("oom_kill", 0)) > 0 or int((self.memory_dir / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        self.kill()
        for d in self.dirs:
            _rmdir(d)


def _rmdir(d: Path) -> None:
    for _ in range(200):  # the kernel frees a group a moment after its last process is reaped
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)
