"""`wingman/busy`: telling the editor that a suggestion is on its way, and why it is slow.

Sent with busy=true once a completion request has waited longer than `completion.busyAfterMs`,
and busy=false, once, when it is answered, dropped or cancelled (server/PROTOCOL.md, "Busy and
progress")."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from server.server import WingmanServer

BUSY = "wingman/busy"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def reason(ls: "WingmanServer") -> tuple[str, str]:
    """(reason, message) for the wait, as the protocol names them."""
    if ls.host.state == "loading":
        pct = (ls.host.progress or {}).get("percentage")
        return "loading", "waiting for the model to load" + (f" ({pct}%)" if pct is not None else "")
    try:
        contended = os.getloadavg()[0] > _cores()
    except OSError:
        contended = False
    if contended or ls.worker.occupied_by_other_work():
        return "busy", "the machine is busy"
    return "computing", "thinking…"


class BusyNotice:
    """One request's notice: armed when it starts, settled exactly once when it ends."""

    def __init__(self, ls: "WingmanServer", uri: str, after_ms: int) -> None:
        self.ls, self.uri = ls, uri
        self.t0 = time.perf_counter()
        self.sent = False
        self._timer = asyncio.get_running_loop().call_later(after_ms / 1000, self._send) if after_ms else None
        if after_ms == 0:
            self._send()

    def _elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.t0) * 1000)

    def _send(self) -> None:
        why, message = reason(self.ls)
        self.sent = True
        self.ls.protocol.notify(BUSY, {"uri": self.uri, "busy": True, "reason": why, "message": message,
                                       "elapsedMs": self._elapsed_ms()})

    def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.sent:
            self.sent = False
            self.ls.protocol.notify(BUSY, {"uri": self.uri, "busy": False, "reason": "", "message": "",
                                           "elapsedMs": self._elapsed_ms()})
