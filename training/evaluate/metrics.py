"""Scores shared by the tasks. All are fractions in 0..1 (the Markdown report shows percents)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(prediction: str, target: str) -> float:
    """1 - Levenshtein distance / length of the longer string (CodeXGLUE, RepoBench)."""
    if not prediction and not target:
        return 1.0
    return 1.0 - levenshtein(prediction, target) / max(len(prediction), len(target))


def normalize(text: str, multiline: bool = False) -> str:
    """Only trailing whitespace is forgiven (of each line, and trailing blank lines), so an exact
    match is the same code: leading spaces matter in Python and at a mid-line cursor."""
    if not multiline:
        return text.rstrip()
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def exact_match(prediction: str, target: str, multiline: bool = False) -> bool:
    return normalize(prediction, multiline) == normalize(target, multiline)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al. 2021)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, q in 0..100."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
