"""Open documents, kept by the server itself (not pygls' workspace) so that incremental edits
split lines exactly as the client does (see positions.py) and so a document that was never
opened is never read from disk behind the user's back.

Handlers take a `Snapshot`: immutable, so a background job can work on it while edits arrive.
Each snapshot has a `serial`, from one counter that only grows: a result computed on a snapshot
is current only while the document is still that snapshot (`Documents.is_current`). Versions
cannot say so: a client may send the same version twice, or a lower one.

The text is kept so that its UTF-16 form is exactly the editor's buffer, lone surrogates
included (positions.py: `canonical`); an edit that falls between the two halves of a character
splits it, as it does in the editor.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from server import positions
from server.positions import Encoding


def uri_to_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme in ("file", ""):
        path = unquote(parsed.path)
        if len(path) > 2 and path[0] == "/" and path[2] == ":":  # file:///C:/x on Windows
            path = path[1:]
        return path
    return unquote(parsed.path)  # untitled:Untitled-1 and the like: no file behind it


@dataclass(frozen=True)
class Snapshot:
    uri: str
    version: int | None
    language_id: str
    text: str
    encoding: Encoding = "utf-16"
    _starts: list[int] = field(default_factory=list, compare=False, repr=False)
    serial: int = 0  # Documents' change counter when this snapshot was made

    @property
    def path(self) -> str:
        return uri_to_path(self.uri)

    @property
    def starts(self) -> list[int]:
        if not self._starts:
            self._starts.extend(positions.line_starts(self.text))
        return self._starts

    def offset(self, line: int, character: int) -> int:
        return positions.to_offset(self.text, self.starts, line, character, self.encoding)

    def position(self, offset: int) -> tuple[int, int]:
        return positions.to_position(self.text, self.starts, offset, self.encoding)

    def has_line(self, line: int) -> bool:
        return 0 <= line < len(self.starts)


@dataclass
class Changed:
    """One applied edit, in offsets of the text before it: [start, end) became `length` chars."""

    start: int
    end: int
    length: int


class Documents:
    """The open documents. Features subscribe to their events instead of sharing state: the
    listeners run on the event loop, right after the text changed."""

    def __init__(self) -> None:
        self._docs: dict[str, Snapshot] = {}
        self._serial = itertools.count(1)
        self.encoding: Encoding = "utf-16"
        self.opened: list[Callable[[Snapshot], None]] = []
        self.changed: list[Callable[[str, list[Changed]], None]] = []
        self.closed: list[Callable[[str], None]] = []

    def open(self, uri: str, language_id: str, version: int | None, text: str) -> Snapshot:
        snap = Snapshot(uri, version, language_id, positions.canonical(text), self.encoding,
                        serial=next(self._serial))
        self._docs[uri] = snap
        for listener in self.opened:
            listener(snap)
        return snap

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)
        for listener in self.closed:
            listener(uri)

    def get(self, uri: str) -> Snapshot | None:
        return self._docs.get(uri)

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def is_current(self, snap: Snapshot) -> bool:
        """Is the document still open and exactly this snapshot (no change since, of any version)?"""
        now = self._docs.get(snap.uri)
        return now is not None and now.serial == snap.serial

    def change(self, uri: str, version: int | None, changes: list) -> list[Changed]:
        """Apply LSP content changes (incremental ones have a `range`). Returns what moved, so
        that diagnostics can shift with the text."""
        snap = self._docs.get(uri)
        if snap is None:
            return []
        text = snap.text
        starts = snap.starts
        moved: list[Changed] = []
        for change in changes:
            rng = getattr(change, "range", None)
            if rng is None:
                moved.append(Changed(0, len(text), len(change.text)))
                text = positions.canonical(change.text)
            else:
                a, split_a = positions.locate(text, starts, rng.start.line, rng.start.character, self.encoding)
                b, split_b = positions.locate(text, starts, rng.end.line, rng.end.character, self.encoding)
                if (a, split_a) > (b, split_b):
                    a, split_a, b, split_b = b, split_b, a, split_a
                before, old_end = len(text), b + (1 if split_b else 0)  # the characters touched
                if split_a or split_b:
                    text, a, b = _split(text, a, split_a, b, split_b)
                start = a - (1 if split_a else 0)
                text = text[:a] + change.text + text[b:]
                joined = positions.canonical(text, a - 1, a + len(change.text) + 1)
                if len(joined) != len(text):  # a surrogate on either side joined its other half
                    start, old_end = max(0, start - 1), min(before, old_end + 1)
                text = joined
                moved.append(Changed(start, old_end, len(text) - before + (old_end - start)))
            starts = positions.line_starts(text) if len(changes) > 1 else []
        self._docs[uri] = Snapshot(uri, version, snap.language_id, text, self.encoding, starts if starts else [],
                                   serial=next(self._serial))
        for listener in self.changed:
            listener(uri, moved)
        return moved


def _split(text: str, a: int, split_a: bool, b: int, split_b: bool) -> tuple[str, int, int]:
    """Split the characters that an edit's ends fall inside into their UTF-16 halves; the ends,
    moved to point between the halves."""
    if split_b:
        text = text[:b] + positions.halves(text[b]) + text[b + 1:]
    if split_a and not (split_b and a == b):
        text = text[:a] + positions.halves(text[a]) + text[a + 1:]
        b += 1  # the character at a now takes two code points, and it is before b
    return text, a + 1 if split_a else a, b + 1 if split_b else b
