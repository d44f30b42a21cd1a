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
    """How many code points of `s` fit in `n` code units (a split character is not counted).

    Lone surrogates count as one code unit in UTF-16 and three bytes in UTF-8 (WTF-8), as in the
    editor's buffer; they are never dropped. `s` must be canonical (`canonical`), so that each
    surrogate pair in its UTF-16 form is one code point of the str."""
    if n <= 0:
        return 0
    if encoding == "utf-32" or s.isascii():
        return min(n, len(s))
    if encoding == "utf-8":
        data = s.encode("utf-8", "surrogatepass")
        cut = min(n, len(data))
        while 0 < cut < len(data) and data[cut] & 0xC0 == 0x80:  # inside a character: before it
            cut -= 1
        return len(data[:cut].decode("utf-8", "surrogatepass"))
    data = s.encode("utf-16-le", "surrogatepass")
    cut = min(2 * n, len(data))
    if 0 < cut < len(data) and _is_high(data, cut - 2) and _is_low(data, cut):
        cut -= 2  # between the halves of a pair: before the character
    return len(data[:cut].decode("utf-16-le", "surrogatepass"))


def _is_high(data: bytes, i: int) -> bool:
    return 0xD8 <= data[i + 1] <= 0xDB


def _is_low(data: bytes, i: int) -> bool:
    return 0xDC <= data[i + 1] <= 0xDF


def to_offset(text: str, starts: list[int], line: int, character: int, encoding: Encoding = "utf-16") -> int:
    return locate(text, starts, line, character, encoding)[0]


def locate(text: str, starts: list[int], line: int, character: int, encoding: Encoding = "utf-16") -> tuple[int, bool]:
    """The str offset of a position, and whether it falls between the two UTF-16 halves of the
    character at that offset (only possible in UTF-16: an editor can edit there)."""
    if line < 0:
        return 0, False
    if line >= len(starts):
        return len(text), False
    start = starts[line]
    end = _line_end(text, starts, line)
    head = _chars_for_units(text[start:end], character, encoding)
    offset = start + head
    inside = (encoding == "utf-16" and offset < end and ord(text[offset]) > 0xFFFF
              and units(text[start:offset], "utf-16") + 1 == character)
    return offset, inside


_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical(text: str, lo: int = 0, hi: int | None = None) -> str:
    """`text` with each high surrogate followed by a low one joined into the character they make,
    looking only at [lo, hi): what the editor's UTF-16 buffer holds after an edit put them side by
    side. Without surrogates (nearly always), `text` itself."""
    hi = len(text) if hi is None else hi
    lo, hi = max(0, lo), min(len(text), hi)
    if not _SURROGATE.search(text, lo, hi):
        return text
    window = text[lo:hi].encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return text[:lo] + window + text[hi:]


def halves(ch: str) -> str:
    """A character beyond the BMP as its two surrogates (as separate code points)."""
    data = ch.encode("utf-16-le")
    return chr(int.from_bytes(data[:2], "little")) + chr(int.from_bytes(data[2:], "little"))


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
