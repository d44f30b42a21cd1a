"""Range helpers with one planted bug, for the diagnostics part of `wingman demo`."""


def in_range(value: int, low: int, high: int) -> bool:
    """True when low <= value <= high."""
    return low <= value and value <= high


def count_in_range(values: list[int], low: int, high: int) -> int:
    """How many values lie in [low, high].

    >>> count_in_range([1, 5, 10], 1, 10)
    3
    """
    count = 0
    for value in values:
        if low <= value and value < high:
            count += 1
    return count
