"""Adapting a completion's prompt to the time it is getting.

The engine measures how fast it prefills now (contention included: a busy laptop prefills
slower) and, when the part of the full window its cache does not hold cannot be prefilled within
the request's time budget, sends a narrower window that can. The full window is prefilled later,
in the background at the lowest priority (`LocalEngine.warm`), so the next request at that place
gets the whole context. A cursor jump or a cold start thus shows something in time instead of
nothing, at the cost of less context for that first answer.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSUMED_TOKENS_PER_S = 300.0  # before the first measurement: a 2-core AVX2 laptop's prefill
PREFILL_SHARE = 0.6  # of the time budget; the rest is for decoding and the round trip
MIN_BUDGET = 160  # tokens: below this a window holds too little to complete from


@dataclass
class PrefillClock:
    """The engine's prefill speed, as an exponential moving average of recent prefills."""

    tokens_per_s: float | None = None
    smoothing: float = 0.3

    def record(self, tokens: int, seconds: float) -> None:
        if tokens < 16 or seconds <= 0:
            return  # too short to say anything about throughput
        rate = tokens / seconds
        self.tokens_per_s = rate if self.tokens_per_s is None else (
            (1 - self.smoothing) * self.tokens_per_s + self.smoothing * rate)

    @property
    def rate(self) -> float:
        return self.tokens_per_s or ASSUMED_TOKENS_PER_S


def narrow_budget(fresh_tokens: int, time_budget_ms: float, budget: int, clock: PrefillClock) -> int | None:
    """A smaller prompt budget when `fresh_tokens` cannot be prefilled in time; None to keep the
    full window."""
    if time_budget_ms <= 0:
        return None
    affordable = int(clock.rate * time_budget_ms / 1000 * PREFILL_SHARE)
    if fresh_tokens <= affordable:
        return None
    narrow = max(MIN_BUDGET, affordable)
    return narrow if narrow < budget else None
