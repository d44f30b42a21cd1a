"""The Wingman language server: what the features share, and the features' registration.

Each LSP method lives in its own file under server/features/ and keeps its own state there; this
file only holds what they all share (documents, the inference worker, settings, the engine,
telemetry), the hooks by which a feature hears of settings and initialize, and small helpers
about the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from server import progress as _progress
from server.config import Settings, parse_settings
from server.documents import Documents, Snapshot
from server.engine_host import EngineHost
from server.privacy import is_private
from server.protocol import WingmanProtocol
from server.telemetry import Telemetry
from server.worker import Worker

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class WingmanServer(LanguageServer):
    def __init__(self, overrides: dict | None = None) -> None:
        super().__init__("wingman", VERSION, protocol_cls=WingmanProtocol, max_workers=4)
        self.documents = Documents()
        self.worker = Worker()
        self.settings = Settings()
        # Settings given on the command line (`--engine`, `--model`) win over the editor's.
        self.overrides = overrides or {}
        self.host = EngineHost(self)
        self.telemetry = Telemetry()
        self.initialized = False
        self.settings_listeners: list[Callable[[Settings], None]] = []  # after every change
        self.initialize_hooks: list[Callable[["WingmanServer"], None]] = []  # before capabilities are sent

    # --- settings ---------------------------------------------------------------------------
    def apply_settings(self, raw: Any, *, initial: bool) -> None:
        settings, problems = parse_settings(raw, None if initial else self.settings)
        settings, more = parse_settings(self.overrides, settings)
        for problem in problems + more:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=f"Wingman settings: {problem}")
            )
        self.settings = settings
        self.telemetry.enabled = settings.telemetry.enabled
        for listener in self.settings_listeners:
            listener(settings)

    # --- documents --------------------------------------------------------------------------
    def snapshot(self, uri: str) -> Snapshot | None:
        """The open document, or None: a document never opened is never read from disk."""
        return self.documents.get(uri)

    def servable(self, snap: Snapshot) -> bool:
        """May this document's text go to the model at all?"""
        if snap.language_id not in self.settings.languages:
            return False
        return not is_private(snap.path, self.settings.ignore)

    # --- client capabilities ----------------------------------------------------------------
    @property
    def client_supports_inline(self) -> bool:
        td = self.client_capabilities.text_document
        return bool(td and getattr(td, "inline_completion", None) is not None)

    @property
    def client_document_changes(self) -> bool:
        """Versioned TextDocumentEdits. Neovim declares resource operations (which only exist in
        `documentChanges`) without `documentChanges: true`, and applies them: count that too."""
        ws = self.client_capabilities.workspace
        we = ws and ws.workspace_edit
        return bool(we and (we.document_changes or we.resource_operations))

    @property
    def client_can_create_files(self) -> bool:
        ws = self.client_capabilities.workspace
        we = ws and ws.workspace_edit
        ops = (we and we.resource_operations) or []
        return self.client_document_changes and types.ResourceOperationKind.Create in ops

    @property
    def client_show_document(self) -> bool:
        w = self.client_capabilities.window
        return bool(w and w.show_document and w.show_document.support)

    async def begin_progress(self, title: str, message: str = "", cancellable: bool = True,
                             token: types.ProgressToken | None = None) -> _progress.WorkProgress:
        return await _progress.begin(self, title, message, cancellable, token)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up "Error in server" for every malformed message a client sends; the
        # user can do nothing about it. Log it instead; request errors are answered as errors.
        log.warning("protocol error (%s): %s", getattr(source, "__name__", source), error)


def create_server(overrides: dict | None = None) -> WingmanServer:
    server = WingmanServer(overrides)
    from server import features

    features.register(server)
    return server
