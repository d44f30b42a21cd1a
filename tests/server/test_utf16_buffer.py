"""The server's copy of a document is the editor's, for any text: random edits are applied both to
a reference UTF-16 buffer (a list of code units, as VS Code keeps it) and to the server's
Documents, and their UTF-16 forms must agree after every edit. The text includes lone surrogates,
pairs split by an edit, halves joined by one, and every kind of line break."""

from __future__ import annotations

import bisect
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types

from server.documents import Documents

UNITS = st.sampled_from([0x61, 0x20, 0x0A, 0x0D, 0xE9, 0x4E2D, 0xD83D, 0xDE00, 0xD800, 0xDFFF, 0x2028, 0x0C])
BREAK = re.compile(r"\r\n|\r|\n")


def as_str(units: list[int]) -> str:
    """What a client's JSON carries for these code units, as Python's json reads it (pairs
    joined, lone surrogates kept)."""
    return json.loads(json.dumps("".join(chr(u) for u in units)))


def server_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]


def position(units: list[int], index: int) -> tuple[int, int]:
    """(line, character) of a unit index, lines split as LSP splits them (one str char per unit
    here, so offsets are code units)."""
    starts = [0] + [m.end() for m in BREAK.finditer("".join(chr(u) for u in units))]
    line = bisect.bisect_right(starts, index) - 1
    return line, index - starts[line]


edits = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.lists(UNITS, max_size=6)), min_size=1, max_size=12)


@settings(derandomize=True, max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(UNITS, max_size=30), edits)
def test_random_edits_keep_the_server_copy_equal_to_a_utf16_buffer(initial, changes):
    docs = Documents()
    docs.encoding = "utf-16"
    buf = list(initial)
    docs.open("u", "python", 1, as_str(buf))
    assert server_units(docs.get("u").text) == buf
    for version, (a, b, new) in enumerate(changes, start=2):
        a, b = sorted((a % (len(buf) + 1), b % (len(buf) + 1)))
        # Editors never put a position between \r and \n; everything else, pair halves too, goes.
        if 0 < a < len(buf) and buf[a - 1] == 0x0D and buf[a] == 0x0A:
            a -= 1
        if 0 < b < len(buf) and buf[b - 1] == 0x0D and buf[b] == 0x0A:
            b += 1
        (l1, c1), (l2, c2) = position(buf, a), position(buf, b)
        docs.change("u", version, [types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=l1, character=c1), end=types.Position(line=l2, character=c2)),
            text=as_str(new))])
        buf[a:b] = new
        assert server_units(docs.get("u").text) == buf, (a, b, new)
