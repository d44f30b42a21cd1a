"""LSP's base protocol, bytes in, JSON values out: a reader that never goes deaf.

A frame is header lines (`Name: value`), a blank line, and `Content-Length` bytes of UTF-8 JSON.
pygls' reader takes only `Content-Length: N\\r\\n` spelled exactly so and trusts N: one wrong
frame made it read the next messages as a body, or wait forever for bytes that never come. This
reader is sans-IO (no reading, no awaiting: `feed` bytes, take `next` events), so the transport
(server/transport.py) and the fuzz harness (tests/fuzz) drive the same code.

What it accepts and how it recovers (server/PROTOCOL.md, "Transport"):
- header names in any case, CRLF or LF line ends, other headers ignored;
- a body of at most MAX_BODY bytes; a larger `Content-Length` is refused at once (an error event)
  and its body skipped as it streams by, in bounded memory;
- strict JSON (RFC 8259): UTF-8, no NaN or Infinity, no number that overflows to infinity;
- resynchronisation at the next well-formed `Content-Length` header. That header cannot occur in
  valid JSON (a raw line break is not allowed inside a string, and the word is not JSON outside
  one), so when it shows up inside a body the frame before it is known to be wrong:
  - a body that does not parse and holds the header, or ends in its first letters: the part
    before it is tried alone (a Content-Length too long), and reading resumes at the header;
  - a body still waiting for bytes, in whose bytes the next header arrives: the same, at once;
  - a body that stops mid-value (a Content-Length too short, or counted in characters): it is
    completed from the bytes that follow, up to the next header, when those make it whole;
  - a small body that is already a whole JSON value is taken without waiting for the rest of a
    Content-Length that overstates it (only whitespace may follow a value in a valid body);
  - anything else between frames is skipped, line by line, in bounded memory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_BODY = 64 * 2**20  # bytes; a 10 MB document with non-ASCII text is about 30 MB of JSON
MAX_LINE = 8192  # a header line longer than this is garbage
EARLY_LIMIT = 64 * 1024  # partial bodies up to this size are checked for being whole already
_TAIL = 64  # bytes kept of a dropped over-long line: the start of a header may be there

_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*?)[ \t]*")
_LENGTH_VALUE = re.compile(rb"\d+")
# A Content-Length header ending a line of garbage ("...}Content-Length: 52").
_LENGTH_AT_END = re.compile(rb"content-length[ \t]*:[ \t]*(\d+)[ \t]*\Z", re.IGNORECASE)
# The next frame's header, found inside what was taken for a body.
_NEXT_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)


@dataclass(frozen=True)
class Message:
    """One JSON value (an object, a batch array, or anything else JSON allows)."""

    value: Any
    size: int  # bytes of the body


@dataclass(frozen=True)
class Broken:
    """A frame that carried no JSON-RPC message: answered with this error and `id: null`."""

    code: int
    message: str


class BadJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise BadJson(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJson(f"the number {text[:40]} is out of range")
    return value


def loads(body: bytes) -> Any:
    """Strict JSON from UTF-8 bytes; BadJson with the reason otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJson(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadJson:
        raise
    except json.JSONDecodeError as exc:
        raise BadJson(f"the body is not JSON: {exc.msg} at byte {exc.pos}") from None
    except (ValueError, RecursionError) as exc:  # over-long integers, nesting too deep
        raise BadJson(f"the body is not usable JSON: {type(exc).__name__}") from None


class Framer:
    def __init__(self, max_body: int = MAX_BODY) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._pos = 0  # where parsing stands in _buf
        self._length: int | None = None  # the current header block's Content-Length
        self._bad_length = False  # the block named a Content-Length we could not read
        self._body = False  # reading a body of self._length bytes at self._pos
        self._scanned = 0  # body bytes already searched for the next header
        self._eof = False
        self.skipped = 0  # garbage bytes dropped between frames (for logs and the fuzz table)

    # --- input ------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self._pos > 1 << 20 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def eof(self) -> None:
        """No more bytes: a body still waiting is taken as it is."""
        self._eof = True

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    # --- output -----------------------------------------------------------------------------
    def next(self) -> Message | Broken | None:
        """The next event, or None until more bytes are fed."""
        while True:
            if self._body:
                event = self._read_body()
                if event is None:
                    return None
                return event
            line = self._line()
            if line is None:
                return None
            event = self._header_line(line)
            if event is not None:
                return event

    # --- headers ----------------------------------------------------------------------------
    def _line(self) -> bytes | None:
        buf = self._buf
        while True:
            pos = self._pos
            end = buf.find(b"\n", pos, pos + MAX_LINE + 1)
            if end >= 0:
                self._pos = end + 1
                line = bytes(buf[pos:end])
                return line[:-1] if line.endswith(b"\r") else line
            if len(buf) - pos > MAX_LINE:  # no header is that long: skip it, but for its tail
                drop = MAX_LINE - _TAIL  # (a header may start there, the line's end still to come)
                self.skipped += drop
                self._pos += drop
                self._void_block()
                continue
            if self._eof and len(buf) > pos:  # a last line without its line end
                self.skipped += len(buf) - pos
                self._pos = len(buf)
            return None

    def _void_block(self) -> None:
        self._length = None
        self._bad_length = False

    def _header_line(self, line: bytes) -> Broken | None:
        if not line.strip():
            if self._length is None:
                if self._bad_length:
                    self._void_block()
                    return Broken(-32700, "a frame whose Content-Length is not a number was skipped")
                return None  # a stray blank line between frames
            length = self._length
            self._void_block()
            if length > self.max_body:
                return Broken(-32600, f"a message of {length} bytes is over the limit of {self.max_body} bytes; "
                                      "it was skipped")
            self._body, self._scanned = True, 0
            self._length = length
            return None
        m = _HEADER.fullmatch(line)
        is_length = m is not None and m.group(1).lower() == b"content-length"
        if is_length and _LENGTH_VALUE.fullmatch(m.group(2)):
            self._length, self._bad_length = _length(m.group(2)), False
            return None
        found = _LENGTH_AT_END.search(line)
        if found is not None:  # the tail of a broken frame, then the next header on its line
            self.skipped += found.start()
            self._length, self._bad_length = _length(found.group(1)), False
            return None
        if is_length:
            self._length, self._bad_length = None, True
            return None
        if m is not None:
            return None  # Content-Type and any other header: ignored
        self.skipped += len(line) + 1
        self._void_block()  # a header block with garbage in it cannot be trusted
        return None

    # --- bodies -----------------------------------------------------------------------------
    def _end_body(self, consumed: int) -> None:
        self._pos += consumed
        self._body = False
        self._length = None

    def _read_body(self) -> Message | Broken | None:
        assert self._length is not None
        need, start = self._length, self._pos
        available = len(self._buf) - start
        if available >= need:
            body = bytes(self._buf[start:start + need])
            try:
                value = loads(body)
            except BadJson as exc:
                return self._recover(body, exc)
            self._end_body(need)
            return Message(value, need)
        # Still waiting. The next frame's header inside these bytes ends the wait.
        scan_from = start + max(0, self._scanned - _TAIL)
        hit = _NEXT_HEADER.search(self._buf, scan_from)
        self._scanned = available
        if hit is not None:
            cut = hit.start() - start
            body = bytes(self._buf[start:start + cut])
            self._end_body(cut)
            return _parse(body)
        if self._eof:
            body = bytes(self._buf[start:])
            self._end_body(available)
            return _parse(body) if body.strip() else None
        if 0 < available <= EARLY_LIMIT and self._buf[start:].rstrip()[-1:] in (b"}", b"]"):
            body = bytes(self._buf[start:])
            try:
                value = loads(body)
            except BadJson:
                return None
            self._end_body(available)
            return Message(value, available)
        return None

    def _recover(self, body: bytes, error: BadJson) -> Message | Broken:
        end = _value_then_header(body)
        if end is not None:  # Content-Length a little too long: the next header's start follows
            self._end_body(end)
            return _parse(body[:end])
        hit = _NEXT_HEADER.search(body)
        if hit is not None:  # Content-Length too long: the next frame began inside this body
            self._end_body(hit.start())
            return _parse(body[: hit.start()])
        # Content-Length too short: the value may go on in the bytes after the body.
        after = self._pos + len(body)
        limit = min(len(self._buf), self._pos + self.max_body)
        nxt = _NEXT_HEADER.search(self._buf, after, limit)
        stop = nxt.start() if nxt is not None else limit
        if stop > after:
            longer = bytes(self._buf[self._pos:stop])
            try:
                value = loads(longer)
            except BadJson:
                pass
            else:
                self._end_body(stop - self._pos)
                return Message(value, len(longer))
        self._end_body(len(body))
        return Broken(-32700, str(error))


def _value_then_header(body: bytes) -> int | None:
    """Where a JSON value at the start of `body` ends, when what follows it is the beginning of
    a Content-Length header (too little of it to be found as a whole header); else None."""
    text = body.decode("utf-8", "surrogateescape")
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except (ValueError, RecursionError):
        return None
    cut = len(text[:end].encode("utf-8", "surrogateescape"))
    head = body[cut:].lstrip()[:14].lower()
    return cut if head and b"content-length".startswith(head) else None


def _length(digits: bytes) -> int:
    """The header's number; one with more digits than any body could have stays over the limit
    without being converted (int() of 5,000 digits is refused by Python, and slow)."""
    return int(digits) if len(digits) <= 18 else 10**18


def _parse(body: bytes) -> Message | Broken:
    try:
        return Message(loads(body), len(body))
    except BadJson as exc:
        return Broken(-32700, str(exc))
