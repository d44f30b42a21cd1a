"""The one inference thread. The engine is not thread-safe, and one model on a few CPU cores
cannot usefully run two things at once, so every engine call goes through here.

- Priorities: a completion (the user is waiting, typing) > a generation the user asked for
  (translate, tests) > diagnostics (nobody is waiting).
- Supersede by key: a new job with the key of a pending or running one cancels it (a completion
  for the same document; never a user's generation, which has no key).
- Background work runs only when nothing else is queued, and a running job of it is pre-empted
  (cancelled and queued again) as soon as anything else arrives, so a keystroke never waits behind
  it: warming the full window a completion had to narrow (model/adaptive.py), then diagnostics.
- Cancellation is cooperative: jobs get a CancelToken that the engine checks between tokens.
- A long job that can pause between steps (a generation between tokens: its engine state is its
  own KV-cache slot and a suspended generator) calls `run_urgent(own priority)` at each step: any
  more urgent job queued meanwhile (a completion) runs right there, on this thread, and the long
  job then goes on where it was, losing nothing. That is how a 20 s generation never makes a
  keystroke wait (server/generation.py).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from model.types import CancelToken

log = logging.getLogger(__name__)

COMPLETION, GENERATION, WARM, DIAGNOSTICS, ADMIN = 0, 1, 2, 3, -1  # ADMIN: model loading, before all


class Job:
    def __init__(self, priority: int, fn: Callable[[CancelToken], Any], key: Any = None, preemptible: bool = False):
        self.priority = priority
        self.fn = fn
        self.key = key
        self.preemptible = preemptible
        self.token = CancelToken()
        self.future: Future = Future()
        self.cancelled = False  # by its owner: do not run, do not requeue
        self.preempted = False

    def cancel(self) -> None:
        self.cancelled = True
        self.token.cancel()
        if not self.future.done():
            self.future.cancel()


class Worker:
    def __init__(self, name: str = "wingman-inference") -> None:
        self._heap: list[tuple[int, int, Job]] = []
        self._seq = itertools.count()
        self._lock = threading.Condition()
        self._running: Job | None = None
        self._by_key: dict[Any, Job] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, priority: int, fn: Callable[[CancelToken], Any], key: Any = None, preemptible: bool | None = None) -> Job:
        job = Job(priority, fn, key, preemptible=(priority >= WARM) if preemptible is None else preemptible)
        with self._lock:
            if key is not None and (old := self._by_key.get(key)) is not None and not old.token.abandoned:
                old.cancel()  # an abandoned one only finishes its prefill, which the new job reuses
            if key is not None:
                self._by_key[key] = job
            running = self._running
            if running is not None and running.preemptible and priority < running.priority:
                running.preempted = True
                running.token.cancel()
            heapq.heappush(self._heap, (priority, next(self._seq), job))
            self._lock.notify()
        return job

    def run_urgent(self, priority: int) -> int:
        """Called from inside the running job, on the worker thread: run every queued job more
        urgent than `priority` now, then return (how many ran) so the caller resumes."""
        if threading.current_thread() is not self._thread:
            return 0
        ran = 0
        while True:
            with self._lock:
                while self._heap and self._heap[0][2].cancelled:
                    _settle(heapq.heappop(self._heap)[2])
                if self._stopped or not self._heap or self._heap[0][0] >= priority:
                    return ran
                outer = self._running
                job = heapq.heappop(self._heap)[2]
                self._running = job
            try:
                self._run_one(job)
            finally:
                with self._lock:
                    self._running = outer
            ran += 1

    def busy(self) -> bool:
        with self._lock:
            return self._running is not None or bool(self._heap)

    def occupied_by_other_work(self) -> bool:
        """A user's generation (or loading) is running: a completion waits behind it."""
        with self._lock:
            running = self._running
            return running is not None and running.priority in (GENERATION, ADMIN)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for _, _, job in self._heap:
                job.cancel()
                _settle(job)
            self._heap.clear()
            if self._running:
                self._running.cancel()
            self._lock.notify()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end after `stop` (the running job sees its cancel token between
        tokens); False if it is still running after `timeout` (a model still loading)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next(self) -> Job | None:
        with self._lock:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    _settle(heapq.heappop(self._heap)[2])
                if self._stopped:
                    return None
                if self._heap:
                    job = heapq.heappop(self._heap)[2]
                    self._running = job
                    return job
                self._lock.wait()

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            self._run_one(job)
            with self._lock:
                self._running = None

    def _run_one(self, job: Job) -> None:
        # A pre-empted job comes back with its future still running: do not start it twice.
        if not (job.future.running() or job.future.set_running_or_notify_cancel()):
            return
        try:
            result = job.fn(job.token)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits it
            result, error = None, exc
        else:
            error = None
        with self._lock:
            # Pre-emptible jobs return None when interrupted; a finished one is kept.
            if job.preempted and not job.cancelled and result is None and error is None:
                # Pushed back, not failed: it runs again once the worker is idle.
                job.token = CancelToken()
                job.preempted = False
                heapq.heappush(self._heap, (job.priority, next(self._seq), job))
                return
            if job.key is not None and self._by_key.get(job.key) is job:
                del self._by_key[job.key]
        if error is not None:
            log.debug("job failed: %r", error)
            job.future.set_exception(error)
        else:
            job.future.set_result(result)


def _settle(job: Job) -> None:
    """A job dropped from the queue after it had started once (pre-empted) still owes its
    awaiter an answer: nothing."""
    if not job.future.done():
        job.future.set_result(None)
