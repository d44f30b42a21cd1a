"""How many threads to compute with, decided before each piece of work from what else runs now.

torch's packed int4/int8 kernels split a matrix over all intra-op threads and wait for the last.
On a busy laptop one of those threads is often not scheduled, and the call waits for it a whole
time slice: measured here on 2 cores with load ~7, a 1152x896 int4 call took 11,605 us with 2
threads and 71 us with 1 (a whole Qwen2.5-0.5B-shaped decode step: ~1 s against ~45 ms). So
when other processes want the cores, the engine uses only the cores they leave it.
"""

from __future__ import annotations

import os

import torch


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def own_running() -> int:
    """This process's threads that are runnable now, the caller among them. OpenMP's workers spin
    for a while after each parallel region, so right after a step they are still running: counted
    as other work, they made a training run on an idle 2-core machine choose one thread (122% CPU)."""
    n = 0
    try:
        for task in os.scandir("/proc/self/task"):
            try:
                with open(f"{task.path}/stat") as f:
                    stat = f.read()
            except OSError:
                continue  # the thread ended
            if stat[stat.rindex(")") + 2:].startswith("R"):
                n += 1
    except OSError:
        return 1
    return max(1, n)


def others_running() -> int:
    """Runnable threads of other processes right now (the kernel's count, less our own)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return max(0, int(line.split()[1]) - own_running())
    except (OSError, ValueError):
        pass
    try:
        return max(0, round(os.getloadavg()[0]) - 1)
    except OSError:
        return 0


class ThreadPolicy:
    """Threads for the next job: the configured count (0: all cores) on a quiet machine, fewer
    when others are running, never less than one."""

    def __init__(self, configured: int = 0, adaptive: bool = True) -> None:
        self.max = configured if configured > 0 else cores()
        self.adaptive = adaptive
        self.current = torch.get_num_threads()

    def choose(self, others: int | None = None) -> int:
        if not self.adaptive:
            return self.max
        busy = others_running() if others is None else others
        return max(1, min(self.max, cores() - busy))

    def apply(self) -> int:
        n = self.choose()
        if n != self.current:
            torch.set_num_threads(n)  # under a microsecond: cheap to decide per job
            self.current = n
        return n
