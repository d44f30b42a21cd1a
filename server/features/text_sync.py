"""didOpen / didChange / didClose. The text itself is kept by server/protocol.py; here we only
schedule diagnostics (debounced, never on every keystroke) and forget per-document state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from server.features import diagnostics

if TYPE_CHECKING:
    from server.server import WingmanServer


def register(server: "WingmanServer") -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: "WingmanServer", params: types.DidOpenTextDocumentParams) -> None:
        diagnostics.schedule(ls, params.text_document.uri, opened=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: "WingmanServer", params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        diagnostics.on_change(ls, uri, ls.last_changes.pop(uri, []))
        diagnostics.schedule(ls, uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: "WingmanServer", params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.cache.forget(uri)
        diagnostics.forget(ls, uri)
