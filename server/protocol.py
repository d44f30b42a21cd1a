"""pygls' protocol with our own document store and quieter error handling.

pygls keeps open documents in its Workspace and splits lines with str.splitlines, which also
breaks at U+2028, form feeds and the like; clients do not, so positions after such a character
would drift. We keep documents ourselves (server/documents.py) and bypass pygls' copy: that also
means one copy of a 10 MB document, not two.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)


class WingmanProtocol(LanguageServerProtocol):
    _server: "WingmanServer"

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        d = params.text_document
        self._server.documents.open(d.uri, d.language_id, d.version, d.text)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        self._server.documents.change(params.text_document.uri, params.text_document.version,
                                      list(params.content_changes))
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        self._server.documents.close(params.text_document.uri)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    def handle_message(self, message: Any) -> None:
        # A message that is JSON but not JSON-RPC (no "jsonrpc" key) arrives as a plain dict.
        if isinstance(message, dict):
            log.warning("ignoring a message that is not JSON-RPC 2.0")
            return
        super().handle_message(message)
