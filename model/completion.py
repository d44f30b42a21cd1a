"""One completion, for every engine: mode → window → generation → stop rules → finish.

A backend only streams the generated text for a FIM prompt built from the shared window
(model/tasks/window.py); the rules that decide what the user sees live here, once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from model.stops import StopChecker, choose_mode, finish_completion
from model.types import NEVER_CANCELLED, CancelToken, Completion, CompletionRequest, EngineInfo, Timings

NO_CONFIDENCE = 0.5  # for a backend that reports no log-probabilities


@dataclass
class Generation:
    """What a backend reports about one streamed generation."""

    timings: Timings = field(default_factory=Timings)
    finish: str = "max_tokens"  # set to "eos" when the model stopped by itself
    narrowed: bool = False  # the window was narrowed to fit the time budget (model/adaptive.py)
    rank: int = 0  # the first token is the rank-th most likely (0: greedy); for alternatives


class FimBackend(Protocol):
    info: EngineInfo
    stop_strings: tuple[str, ...]  # text that ends a completion wherever it appears

    def stream_fim(self, request: CompletionRequest, budget: int, gen: Generation,
                   cancel: CancelToken) -> Iterator[tuple[str, float | None]]:
        """Yield (all the text generated so far, the new token's log-probability or None)."""
        ...


def prompt_budget(request: CompletionRequest, context_length: int) -> int:
    """The prompt's share of the context: what the request asks, less room for the answer."""
    return max(16, min(request.budget, context_length - request.max_tokens - 8))


def complete(backend: FimBackend, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
    """The greedy completion, then (request.n > 1, on a backend that can branch) alternatives:
    each forces another of the first step's most likely tokens and continues greedily from the
    same cached prompt (only its last token is recomputed). Distinct after trimming, ranked by
    mean log-probability."""
    cancel = cancel or NEVER_CANCELLED
    t0 = time.perf_counter()
    mode = choose_mode(request.prefix, request.suffix) if request.mode == "auto" else request.mode
    first = _one(backend, request, mode, cancel, 0)
    if cancel.stopped:
        return []
    out = [first] if first is not None else []
    want = max(1, request.n) if getattr(backend, "branches", False) else 1
    rank = 1
    while len(out) < want and rank < want + ALTERNATIVE_TRIES and not cancel.stopped:
        alt = _one(backend, request, mode, cancel, rank)
        rank += 1
        if alt is not None and all(alt.text != c.text for c in out):
            out.append(alt)
    if cancel.stopped:
        return []
    out.sort(key=lambda c: -c.confidence)
    if len(out) > 1:
        out[0].timings.total_ms = (time.perf_counter() - t0) * 1000  # what the whole answer took
    return out


ALTERNATIVE_TRIES = 2  # first tokens tried beyond N, for alternatives that trim to a duplicate


def _one(backend: FimBackend, request: CompletionRequest, mode, cancel: CancelToken, rank: int) -> Completion | None:
    t0 = time.perf_counter()
    gen = Generation(rank=rank)
    checker = StopChecker(mode, request.prefix)
    text, reason, logps = "", "", []
    stream = backend.stream_fim(request, prompt_budget(request, backend.info.context_length), gen, cancel)
    try:
        for text, lp in stream:
            if lp is not None:
                logps.append(lp)
            cut = min((text.index(s) for s in backend.stop_strings if s and s in text), default=None)
            if cut is not None:
                text, reason = text[:cut], "eos"
                break
            hit = checker.check(text)
            if hit:
                reason = hit[1]
                break
    finally:
        stream.close()
    reason = reason or gen.finish
    timings = gen.timings
    timings.total_ms = (time.perf_counter() - t0) * 1000
    timings.decode_ms = max(0.0, timings.total_ms - timings.prefill_ms)
    if cancel.stopped:
        return None
    text, why = finish_completion(text, request.prefix, request.suffix, mode)
    if why != "eos":
        reason = why
    if not text.strip():
        return None
    confidence = math.exp(sum(logps) / len(logps)) if logps else NO_CONFIDENCE
    return Completion(text=text, confidence=confidence, timings=timings, stop_reason=reason, mode=mode,
                      narrowed=gen.narrowed, logprobs=tuple(logps))
