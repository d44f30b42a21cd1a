"""model/threads.py: this process's own running threads are not 'other work'."""

from __future__ import annotations

import threading

import torch

from model import threads


def test_own_running_counts_a_busy_thread_of_this_process():
    """A thread of ours that is computing (torch releases the GIL, so it stays runnable) is counted
    as our own. Before, the kernel's whole runnable count less one was taken as other work, so a
    training run's own OpenMP workers made it choose one thread on an idle machine."""
    stop = threading.Event()

    def spin() -> None:
        a = torch.randn(256, 256)
        with torch.no_grad():
            while not stop.is_set():
                a @ a

    torch.set_num_threads(1)
    t = threading.Thread(target=spin, daemon=True)
    t.start()
    try:
        seen = max(threads.own_running() for _ in range(200))
    finally:
        stop.set()
        t.join()
    assert seen >= 2  # the caller and the spinning thread
    assert threads.own_running() >= 1
