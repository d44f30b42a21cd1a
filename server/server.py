"""The Wingman language server: what the features share, and the features' registration.

Each LSP method lives in its own file under server/features/ and keeps its own state there; this
file only holds what they all share (documents, the inference worker, settings, the engine,
telemetry), the hooks by which a feature hears of settings and initialize, and small helpers
about the client.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer

from server import progress as _progress
from server.config import Settings, parse_settings
from server.documents import Documents, Snapshot
from server.engine_host import EngineHost
from server import transport
from server.privacy import check_patterns, is_private
from server.protocol import WingmanProtocol
from server.remote_trust import RemoteTrust
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
        self.remote_trust = RemoteTrust(self)
        if url := self.overrides.get("model", {}).get("remoteUrl"):
            self.remote_trust.trusted.add(url)  # `wingman serve --remote-url`: the user's own
        self.initialized = False
        self.settings_listeners: list[Callable[[Settings], None]] = []  # after every change
        self.initialize_hooks: list[Callable[["WingmanServer"], None]] = []  # before capabilities are sent
        self.accept_listeners: list[Callable[[dict], None]] = []  # wingman.accept's argument

    # --- settings ---------------------------------------------------------------------------
    def apply_settings(self, raw: Any, *, initial: bool) -> None:
        """`initial`: initializationOptions, the user's own; later changes may come from a
        workspace's settings, so a remote URL in them waits for the user's yes (remote_trust.py)."""
        settings, problems = parse_settings(raw, None if initial else self.settings)
        settings, more = parse_settings(self.overrides, settings)
        settings = self.remote_trust.screen(settings, self.settings, from_user=initial)
        settings.ignore, refused = check_patterns(settings.ignore)
        for problem in problems + more + refused:
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

    # --- transport and the end -------------------------------------------------------------
    def start_io(self, stdin: Any = None, stdout: Any = None) -> int:  # type: ignore[override]
        """Serve stdio until `exit` or the end of input; the exit code (server/transport.py)."""
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        fd = (stdin or sys.stdin.buffer).fileno()

        async def main() -> int:
            return await transport.serve(self.protocol, transport.FdChunks(fd))

        try:
            return transport.run_loop(main)
        finally:
            self.stop()

    def start_tcp(self, host: str, port: int) -> int:  # type: ignore[override]
        """One client over TCP, then the process ends, as with stdio."""
        async def main() -> int:
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                if done.done() or getattr(self, "_connected", False):
                    writer.close()  # one editor per server
                    return
                self._connected = True
                self.protocol.set_writer(writer)  # type: ignore[arg-type]
                code = await transport.serve(self.protocol, transport.StreamChunks(reader))
                writer.close()
                if not done.done():
                    done.set_result(code)

            listener = await asyncio.start_server(connection, host, port)
            transport.log.info("Serving on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
            async with listener:
                return await done

        try:
            return transport.run_loop(main)
        finally:
            self.stop()

    def stop(self) -> None:
        """Before the process ends: no inference thread may still be inside torch when the
        interpreter goes (that is where "terminate called without an active exception" came
        from), and this session's counts are kept."""
        self.worker.stop()
        self.worker.join(timeout=10)
        self.host.engine = None
        self.telemetry.flush()
        if self._thread_pool is not None:
            self._thread_pool.shutdown(wait=False, cancel_futures=True)

    def report_server_error(self, error: Exception, source: Any) -> None:
        # pygls would pop up "Error in server" for every malformed message a client sends; the
        # user can do nothing about it. Log it instead; request errors are answered as errors.
        log.warning("protocol error (%s): %s", getattr(source, "__name__", source), error)


def create_server(overrides: dict | None = None) -> WingmanServer:
    server = WingmanServer(overrides)
    from server import features

    features.register(server)
    return server
