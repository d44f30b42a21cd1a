"""Per-process resource limits, set by util-linux's `prlimit` in front of the command.

Why not `preexec_fn`: it makes subprocess `fork()` the whole calling process (the server, with a
model in memory) instead of `vfork()`, and runs Python between fork and exec, which is unsafe
beside other threads. `preexec_fn` remains the fallback where `prlimit` is missing (not Linux).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass


@dataclass
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 1024  # per process (RLIMIT_DATA, and RLIMIT_AS but for node); the tree's cgroup
    cpu_s: int = 20  # RLIMIT_CPU
    file_mb: int = 16  # RLIMIT_FSIZE
    open_files: int = 256
    processes: int = 64  # pids cgroup (or RLIMIT_NPROC as nobody)


def table(limits: Limits, address_space: bool, nproc: bool) -> dict[str, tuple[int, int]]:
    """prlimit's resource name -> (soft, hard). RLIMIT_DATA bounds the heap of every runtime,
    Node's `Buffer.alloc` included (it is outside V8's `--max-old-space-size`); RLIMIT_AS is left
    off for node, whose V8 reserves large address ranges it never uses."""
    mem = limits.memory_mb << 20
    out = {"data": (mem, mem), "cpu": (limits.cpu_s, limits.cpu_s + 1),
           "fsize": (limits.file_mb << 20, limits.file_mb << 20),
           "nofile": (limits.open_files, limits.open_files), "core": (0, 0)}
    if address_space:
        out["as"] = (mem, mem)
    if nproc:  # counted per user: only meaningful for a program that runs as nobody
        out["nproc"] = (limits.processes, limits.processes)
    return out


def prlimit_prefix(rl: dict[str, tuple[int, int]]) -> list[str] | None:
    exe = shutil.which("prlimit", path="/usr/bin:/bin:/usr/sbin:/sbin")
    if not exe:
        return None
    return [exe, *(f"--{name}={soft}:{hard}" for name, (soft, hard) in rl.items()), "--"]


def preexec(rl: dict[str, tuple[int, int]]):
    """The fallback: the same limits set in the child between fork and exec."""
    import resource

    pairs = [(getattr(resource, f"RLIMIT_{name.upper()}"), v) for name, v in rl.items()]

    def apply() -> None:
        for res, value in pairs:
            resource.setrlimit(res, value)

    return apply
