"""The fate of each suggestion, for the opt-in local acceptance log (model/acceptance_log.py says
exactly what a record holds; `telemetry.acceptanceLog`, off by default, turns it on).

A listener on the completion path (server/suggest.py calls `request` and `shown`), on the accept
command (`accepted`) and on document close (`closed`). Per document, the suggestion showing is
pending until its fate is known:
- accepted: the accept command ran while it showed (the command carries no document, so it is
  the most recently shown suggestion);
- typed: the text before the cursor came to end with the whole suggestion (typed out by hand);
- superseded: the user typed or moved elsewhere, and a new request came;
- dismissed: the document closed with it showing.
Typing part of it keeps it pending (the type-ahead cache shows the rest: the same suggestion).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.acceptance_log import AcceptanceLog

if TYPE_CHECKING:
    from server.documents import Snapshot
    from server.server import WingmanServer
    from server.suggest import Suggestion

log = logging.getLogger(__name__)


@dataclass
class Pending:
    path: str
    language: str
    prefix: str
    suffix: str
    text: str

    @property
    def full(self) -> str:
        return self.prefix + self.text


class AcceptanceTracker:
    def __init__(self, server: "WingmanServer", store: AcceptanceLog | None = None) -> None:
        self.server = server
        self.store = store or AcceptanceLog()
        self.pending: dict[str, Pending] = {}
        self.last_uri: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(getattr(self.server.settings.telemetry, "acceptance_log", False))

    def _resolve(self, uri: str, fate: str) -> None:
        p = self.pending.pop(uri, None)
        if p is None or not self.enabled:
            return
        try:
            self.store.record(p.path, p.language, p.prefix, p.suffix, p.text, fate)
        except OSError as exc:  # a full disk must not stop completions
            log.warning("acceptance log not written: %s", exc)

    def request(self, snap: "Snapshot", offset: int) -> None:
        p = self.pending.get(snap.uri)
        if p is None:
            return
        prefix = snap.text[:offset]
        if prefix.startswith(p.full):
            self._resolve(snap.uri, "typed")
        elif p.full.startswith(prefix) and len(prefix) > len(p.prefix):
            return  # typing through it: still showing (the rest, from the type-ahead cache)
        else:
            self._resolve(snap.uri, "superseded")

    def shown(self, s: "Suggestion") -> None:
        if not self.enabled or not s.text:
            return
        uri = s.snap.uri
        prefix = s.snap.text[:s.offset]
        old = self.pending.get(uri)
        self.last_uri = uri
        if old is not None and prefix + s.text == old.full:
            return  # the rest of the same suggestion
        if old is not None:
            self._resolve(uri, "superseded")
        self.pending[uri] = Pending(s.snap.path, s.snap.language_id, prefix, s.snap.text[s.offset:], s.text)

    def accepted(self, info: dict) -> None:
        if self.last_uri is not None:
            self._resolve(self.last_uri, "accepted")

    def closed(self, uri: str) -> None:
        self._resolve(uri, "dismissed")


def attach(server: "WingmanServer", suggester) -> AcceptanceTracker:
    tracker = AcceptanceTracker(server)
    suggester.listeners.append(tracker)
    server.accept_listeners.append(tracker.accepted)
    server.documents.closed.append(tracker.closed)
    return tracker
