"""One file per LSP method (or family of notifications). Each has `register(server)` and keeps
its own state; the two completion features share one Suggester (server/suggest.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.server import WingmanServer


def register(server: "WingmanServer") -> None:
    from server.features import (
        code_actions,
        code_from_comment,
        commands,
        completion,
        configuration,
        diagnostics,
        generate_tests,
        inline_completion,
        learn,
        lifecycle,
        translate,
    )
    from server.acceptance import attach
    from server.suggest import Suggester

    suggester = Suggester(server)
    attach(server, suggester)  # the opt-in acceptance log
    inline_completion.register(server, suggester)
    completion.register(server, suggester)  # only at initialize, and only for some clients
    for module in (lifecycle, configuration, code_actions, commands, generate_tests, translate,
                   code_from_comment, diagnostics, learn):
        module.register(server)
