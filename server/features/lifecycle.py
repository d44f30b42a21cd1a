"""initialize / initialized / shutdown.

`initialize` only reads options and capabilities and answers; the model loads after
`initialized`, in the background (server/engine_host.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.capabilities import ServerCapabilitiesBuilder

if TYPE_CHECKING:
    from server.server import WingmanServer


def register(server: "WingmanServer") -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: "WingmanServer", params: types.InitializeParams) -> None:
        encoding = ServerCapabilitiesBuilder.choose_position_encoding(params.capabilities)
        ls.documents.encoding = str(getattr(encoding, "value", encoding))  # type: ignore[assignment]
        ls.apply_settings(params.initialization_options, initial=True)
        # Before pygls computes the capabilities: a feature may register itself only for some
        # clients (the completion fallback).
        for hook in ls.initialize_hooks:
            hook(ls)

    @server.feature(types.INITIALIZED)
    def initialized(ls: "WingmanServer", params: types.InitializedParams) -> None:
        ls.initialized = True
        ls.host.start(ls.settings)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: "WingmanServer", params: None) -> None:
        ls.telemetry.flush()
        ls.worker.stop()
