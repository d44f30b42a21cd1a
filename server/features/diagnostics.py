"""Model-based hints, published with textDocument/publishDiagnostics.

Debounced after edits (the feature subscribes to the documents' events); scored on the worker at the lowest priority (only when it is idle, and
pre-empted by any keystroke); the whole of a small file, only the changed regions of a large one;
nothing for files over the size limit, private files or disabled languages.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lsprotocol import types

from server.documents import Changed, Snapshot
from server.hints import Hint, find_hints, pick
from server.worker import DIAGNOSTICS

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)
SOURCE = "wingman"
WHOLE_FILE_CHARS = 6000  # scored whole up to this size (about 1.5k tokens); windows beyond
WINDOW_BEFORE, WINDOW_AFTER = 30, 5  # lines of context around a changed region


@dataclass
class DocState:
    task: asyncio.Task | None = None
    hints: list[Hint] = field(default_factory=list)  # offsets into the current text
    dirty: list[tuple[int, int]] = field(default_factory=list)  # changed regions since the last run


class Diagnostics:
    """The hints of every open document: scheduled on open and change, forgotten on close,
    cleared when the setting turns them off."""

    def __init__(self, server: "WingmanServer") -> None:
        self.server = server
        self.states: dict[str, DocState] = {}
        server.documents.opened.append(lambda snap: self.schedule(snap.uri))
        server.documents.changed.append(self.on_change)
        server.documents.closed.append(self.forget)
        server.settings_listeners.append(lambda settings: None if settings.diagnostics.enabled else self.clear_all())

    def _state(self, uri: str) -> DocState:
        return self.states.setdefault(uri, DocState())

    def on_change(self, uri: str, moved: list[Changed]) -> None:
        """Keep hints and dirty regions aligned with the text as it is edited, then rescan."""
        st = self._state(uri)
        for c in moved:
            delta = c.length - (c.end - c.start)

            def shift(a: int, b: int) -> tuple[int, int] | None:
                if b <= c.start:
                    return a, b
                if a >= c.end:
                    return a + delta, b + delta
                return None  # overlaps the edit

            st.hints = [Hint(*s, h.text, h.replacement, h.logprob) for h in st.hints if (s := shift(h.start, h.end))]
            dirty = [shift(a, b) or (min(a, c.start), max(c.start + c.length, b + delta)) for a, b in st.dirty]
            st.dirty = _coalesce(dirty + [(c.start, c.start + c.length)])
        self.schedule(uri)

    def schedule(self, uri: str) -> None:
        st = self._state(uri)
        if st.task and not st.task.done():
            st.task.cancel()
        st.task = asyncio.ensure_future(self._debounced(uri))

    def forget(self, uri: str) -> None:
        st = self.states.pop(uri, None)
        if st and st.task and not st.task.done():
            st.task.cancel()
        self.server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def clear_all(self) -> None:
        for uri in list(self.states):
            self.forget(uri)

    async def _debounced(self, uri: str) -> None:
        ls = self.server
        await asyncio.sleep(ls.settings.diagnostics.debounce_ms / 1000)
        # The model may still be loading when the file opens: wait for it, once.
        if not ls.host.ready:
            if ls.host.state == "error":
                return
            await ls.host.wait_ready()
            if not ls.host.ready:
                return
        try:
            await self.run(uri)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - hints are optional; never let them break the server
            log.exception("diagnostics failed for %s", uri)

    async def run(self, uri: str) -> None:
        ls = self.server
        snap = ls.snapshot(uri)
        cfg = ls.settings.diagnostics
        engine = ls.host.engine
        if snap is None or engine is None:
            return
        st = self._state(uri)
        if (not cfg.enabled or not ls.servable(snap)
                or len(snap.text.encode("utf-8", "surrogatepass")) > cfg.max_file_bytes):
            if st.hints:
                st.hints = []
                _publish(ls, snap, [])
            return
        regions = _regions(snap, st.dirty)
        if not regions:
            return
        threshold = cfg.threshold

        def score(cancel) -> list[Hint] | None:
            found: list[Hint] = []
            for a, b in regions:
                scores = engine.score(snap.text[a:b], cancel)
                if cancel.cancelled:
                    return None  # pre-empted by a keystroke: the worker runs us again when idle
                found += find_hints(snap.text, scores, threshold, base=a)
            return found

        job = ls.worker.submit(DIAGNOSTICS, score, key=("diagnostics", uri))
        try:
            found = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            raise
        if found is None or not ls.documents.is_current(snap):
            return  # superseded; the edit that moved the document scheduled another run
        st.dirty = []
        kept = [h for h in st.hints if not any(a <= h.start < b for a, b in regions)]
        st.hints = pick(kept + found, snap.text, cfg.max_per_file)
        _publish(ls, snap, st.hints)


MAX_DIRTY = 32


def _coalesce(regions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching regions as one, and at most MAX_DIRTY of them (then one span over
    all): with hints off, or the model still loading, nothing clears them, and a list that grew
    by one per didChange cost time and memory per keystroke for the rest of the session."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(regions):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    if len(out) > MAX_DIRTY:
        out = [(out[0][0], max(b for _, b in out))]
    return out


def _regions(snap: Snapshot, dirty: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(snap.text) <= WHOLE_FILE_CHARS:
        return [(0, len(snap.text))]
    out: list[tuple[int, int]] = []
    starts = snap.starts
    for a, b in sorted(dirty):
        la, _ = snap.position(a)
        lb, _ = snap.position(b)
        s = starts[max(0, la - WINDOW_BEFORE)]
        e = starts[lb + WINDOW_AFTER + 1] if lb + WINDOW_AFTER + 1 < len(starts) else len(snap.text)
        s = max(s, e - WHOLE_FILE_CHARS)
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _publish(ls: "WingmanServer", snap: Snapshot, hints: list[Hint]) -> None:
    diags = []
    for h in hints:
        start, end = snap.position(h.start), snap.position(h.end)
        diags.append(types.Diagnostic(
            range=types.Range(start=types.Position(*start), end=types.Position(*end)),
            message=f"Unlikely here: `{h.text}`; the model expected `{h.replacement}`",
            severity=types.DiagnosticSeverity.Information,
            source=SOURCE,
            code="unlikely-token",
            data={"replacement": h.replacement, "original": h.text, "logprob": round(h.logprob, 2)},
        ))
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=snap.uri, version=snap.version, diagnostics=diags))


def register(server: "WingmanServer") -> Diagnostics:
    return Diagnostics(server)  # driven by document events; publishing needs no handler
