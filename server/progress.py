"""Work-done progress (`$/progress`) for loading and long generations, with its cancel button.

A client that does not support work-done progress gets nothing here (no create request it would
reject); the work still runs and can be cancelled with `$/cancelRequest`.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class WorkProgress:
    def __init__(self, server: "WingmanServer | None", token: types.ProgressToken | None) -> None:
        self.server = server
        self.token = token
        self._ended = False

    @property
    def enabled(self) -> bool:
        return self.server is not None and self.token is not None

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.enabled and not self._ended:
            self.server.work_done_progress.report(
                self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    def end(self, message: str = "") -> None:
        if self.enabled and not self._ended:
            self._ended = True
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.server.work_done_progress.tokens.pop(self.token, None)

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the user presses the progress's cancel button."""
        if not self.enabled:
            return
        fut: Future | None = self.server.work_done_progress.tokens.get(self.token)
        if fut is not None:
            fut.add_done_callback(lambda f: callback() if f.cancelled() else None)


async def begin(server: "WingmanServer", title: str, message: str = "", cancellable: bool = True,
                token: types.ProgressToken | None = None) -> WorkProgress:
    """Start progress on `token` (the client's, from the request) or on one we create."""
    if token is None:
        caps = server.client_capabilities
        if not (caps.window and caps.window.work_done_progress):
            return WorkProgress(None, None)
        token = f"wingman/{next(_ids)}"
        try:
            await server.work_done_progress.create_async(token)
        except Exception as exc:  # noqa: BLE001 - a client may refuse; the work goes on without it
            log.info("progress create refused: %s", exc)
            return WorkProgress(None, None)
    server.work_done_progress.begin(
        token, types.WorkDoneProgressBegin(title=title, message=message, cancellable=cancellable, percentage=0)
    )
    return WorkProgress(server, token)
