"""Open documents, kept by the server itself (not pygls' workspace) so that incremental edits
split lines exactly as the client does (see positions.py) and so a document that was never
opened is never read from disk behind the user's back.

Handlers take a `Snapshot`: immutable, so a background job can work on it while edits arrive.
"""

from __future__ import annotations

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
        self.encoding: Encoding = "utf-16"
        self.opened: list[Callable[[Snapshot], None]] = []
        self.changed: list[Callable[[str, list[Changed]], None]] = []
        self.closed: list[Callable[[str], None]] = []

    def open(self, uri: str, language_id: str, version: int | None, text: str) -> Snapshot:
        snap = Snapshot(uri, version, language_id, text, self.encoding)
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
                text = change.text
            else:
                a = positions.to_offset(text, starts, rng.start.line, rng.start.character, self.encoding)
                b = positions.to_offset(text, starts, rng.end.line, rng.end.character, self.encoding)
                a, b = min(a, b), max(a, b)
                moved.append(Changed(a, b, len(change.text)))
                text = text[:a] + change.text + text[b:]
            starts = positions.line_starts(text) if len(changes) > 1 else []
        self._docs[uri] = Snapshot(uri, version, snap.language_id, text, self.encoding, starts if starts else [])
        for listener in self.changed:
            listener(uri, moved)
        return moved
