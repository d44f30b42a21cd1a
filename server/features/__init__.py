"""One file per LSP method (or family of notifications). Each has `register(server)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.server import WingmanServer


def register(server: "WingmanServer") -> None:
    from server.features import (
        code_actions,
        commands,
        configuration,
        diagnostics,
        inline_completion,
        lifecycle,
        text_sync,
    )

    for module in (lifecycle, configuration, text_sync, inline_completion, code_actions, commands, diagnostics):
        module.register(server)
