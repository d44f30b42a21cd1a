"""WorkspaceEdits that an editor can check before applying.

An open document's edit is a TextDocumentEdit carrying the version it was computed against: the
editor rejects it if the text moved on, instead of corrupting it. A file the editor has not
opened gets version null; a new file a CreateFile first (never overwriting). Clients without
`documentChanges` get plain `changes` (no version check is possible; the server checks the
version itself right before sending).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from server import positions
from server.documents import Snapshot

if TYPE_CHECKING:
    from server.server import WingmanServer


def path_to_uri(path: Path | str) -> str:
    return Path(path).resolve().as_uri()


def _pos(p: tuple[int, int]) -> types.Position:
    return types.Position(line=p[0], character=p[1])


def replace(ls: "WingmanServer", snap: Snapshot, start: int, end: int, new_text: str) -> types.WorkspaceEdit:
    """Replace [start, end) of an open document."""
    rng = types.Range(start=_pos(snap.position(start)), end=_pos(snap.position(end)))
    edit = types.TextEdit(range=rng, new_text=new_text)
    if ls.client_document_changes:
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=snap.uri, version=snap.version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=ident, edits=[edit])])
    return types.WorkspaceEdit(changes={snap.uri: [edit]})


def append_to_file(ls: "WingmanServer", uri: str, current: str, version: int | None, text: str) -> types.WorkspaceEdit:
    """Append to an existing file: open (version known) or on disk only (version null)."""
    starts = positions.line_starts(current)
    end = _pos(positions.to_position(current, starts, len(current), ls.documents.encoding))
    edit = types.TextEdit(range=types.Range(start=end, end=end), new_text=text)
    if ls.client_document_changes:
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(text_document=ident, edits=[edit])])
    return types.WorkspaceEdit(changes={uri: [edit]})


def create_file(uri: str, text: str) -> types.WorkspaceEdit:
    """CreateFile (failing if it exists: never overwrite) and fill it. Needs resource operations."""
    zero = types.Position(line=0, character=0)
    return types.WorkspaceEdit(document_changes=[
        types.CreateFile(uri=uri, options=types.CreateFileOptions(overwrite=False, ignore_if_exists=False)),
        types.TextDocumentEdit(
            text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=None),
            edits=[types.TextEdit(range=types.Range(start=zero, end=zero), new_text=text)],
        ),
    ])
