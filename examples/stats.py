"""Small statistics helpers, used by the Wingman demo."""

from __future__ import annotations


def mean(values: list[float]) -> float:
    """Arithmetic mean of a non-empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def variance(values: list[float]) -> float:
    """Population variance."""
    m = mean(values)
    return sum((v - m) ** 2 for v in values) / len(values)


def median(values: list[float]) -> float:
    """Middle value of the sorted list (mean of the two middle values for even lengths)."""
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    if n % 2 == 1:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def standard_deviation(values: list[float]) -> float:
    """Square root of the population variance."""
    return variance(values) ** 0.5


def clamp(value: float, low: float, high: float) -> float:
    """Limit value to the closed interval [low, high]."""
    return max(low, min(value, high))


def is_even(n: int) -> bool:
    """True when n is divisible by two."""
    return n % 2 == 0


def factorial(n: int) -> int:
    """n! for n >= 0."""
    result = 1
    for i in range(2, n + 1):
        result *= i
    return result
