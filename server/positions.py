"""LSP positions <-> Python str offsets. The only place that knows about code units.

LSP counts columns in the encoding negotiated at initialize (UTF-16 unless the client offers
another); Python indexes code points. Lines end at "\n", "\r\n" or "\r" only (unlike
str.splitlines, which also splits at U+2028, form feeds and others — the client would not).
Out-of-range positions are clamped the way the spec asks: a character past the line's end means
the end of the line; a line past the end means the end of the document.
"""

from __future__ import annotations

import bisect
import re
from typing import Literal

Encoding = Literal["utf-8", "utf-16", "utf-32"]
_BREAK = re.compile(r"\r\n|\r|\n")


def line_starts(text: str) -> list[int]:
    """Offsets where each line begins; always at least [0]."""
    return [0] + [m.end() for m in _BREAK.finditer(text)]


def _line_end(text: str, starts: list[int], line: int) -> int:
    """Offset of the end of `line`, before its line break."""
    if line + 1 < len(starts):
        end = starts[line + 1]
        if text[end - 2 : end] == "\r\n":
            return end - 2
        return end - 1
    return len(text)


def units(s: str, encoding: Encoding = "utf-16") -> int:
    """Length of `s` in the encoding's code units."""
    if encoding == "utf-32" or s.isascii():
        return len(s)
    if encoding == "utf-8":
        return len(s.encode("utf-8", "surrogatepass"))
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def _chars_for_units(s: str, n: int, encoding: Encoding) -> int:
    """How many code points of `s` fit in `n` code units (a split character is not counted)."""
    if n <= 0:
        return 0
    if encoding == "utf-32" or s.isascii():
        return min(n, len(s))
    if encoding == "utf-8":
        head = s.encode("utf-8", "surrogatepass")[:n]
        return len(head.decode("utf-8", "ignore"))
    head = s.encode("utf-16-le", "surrogatepass")[: 2 * n]
    return len(head.decode("utf-16-le", "ignore"))


def to_offset(text: str, starts: list[int], line: int, character: int, encoding: Encoding = "utf-16") -> int:
    if line < 0:
        return 0
    if line >= len(starts):
        return len(text)
    start = starts[line]
    end = _line_end(text, starts, line)
    return start + _chars_for_units(text[start:end], character, encoding)


def to_position(text: str, starts: list[int], offset: int, encoding: Encoding = "utf-16") -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    line = bisect.bisect_right(starts, offset) - 1
    start = starts[line]
    # An offset inside a "\r\n" pair belongs to the end of the line.
    end = _line_end(text, starts, line)
    return line, units(text[start : min(offset, end)], encoding)


def position_in_range(text: str, starts: list[int], line: int, character: int) -> bool:
    """True when the position names a place in the document (before clamping the character)."""
    return 0 <= line < len(starts) and character >= 0
