"""The shared path of inline completion and its textDocument/completion fallback:
snapshot -> type-ahead cache -> debounce -> one model call on the worker -> stale check.

`Suggester` owns that path's state (the debounce sequence, the pending waits, the running
model calls, the type-ahead cache) and returns plain data (offsets into the snapshot); the
features turn it into LSP items. The prompt's window is the engine's business
(model/tasks/window.py): the whole text before and after the cursor is handed over.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataclasses import replace

from model import gate
from model.types import CompletionRequest
from model.tasks.window import WindowConfig
from server.busy import BusyNotice
from server.cache import SuggestionCache
from server.context import Contexts
from server.documents import Snapshot
from server.worker import COMPLETION, WARM

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)


@dataclass
class Suggestion:
    snap: Snapshot
    offset: int  # the cursor, as a str offset into snap.text
    text: str  # to insert at the cursor
    mode: str
    cached: bool  # served from the type-ahead cache, no model call
    alternatives: tuple[str, ...] = ()  # more candidates, best first, after `text`


class Suggester:
    def __init__(self, server: "WingmanServer") -> None:
        self.server = server
        self.cache = SuggestionCache()
        self.seq: dict[str, int] = defaultdict(int)  # per document: the newest request's number
        self.waiters: dict[str, asyncio.Future] = {}  # uri -> the pending request's debounce wait
        self.inflight: dict[str, Any] = {}  # uri -> the running model call's worker Job
        self.loading_notices: dict[str, BusyNotice] = {}  # uri -> "waiting for the model to load"
        self.contexts = Contexts(server)  # repository context (server/context.py)
        # Told of each request (`request(snap, offset)`) and each suggestion returned (`shown(s)`):
        # the acceptance log (server/acceptance.py) follows the fate of suggestions this way.
        self.listeners: list[Any] = []
        server.documents.closed.append(self.forget)
        server.settings_listeners.append(lambda _settings: self.cache.clear())

    def forget(self, uri: str) -> None:
        self.cache.forget(uri)
        self.seq.pop(uri, None)

    def cursor(self, uri: str, line: int, character: int) -> tuple[Snapshot, int] | None:
        """The open, servable document and the cursor offset; None for anything we must not answer."""
        ls = self.server
        if not ls.settings.completion.enabled:
            return None
        if not ls.host.ready:
            if ls.host.state == "loading" and uri not in self.loading_notices and ls.snapshot(uri) is not None:
                self._notice_until_loaded(uri)
            return None
        snap = ls.snapshot(uri)
        if snap is None or not ls.servable(snap) or not snap.has_line(line) or character < 0:
            return None
        return snap, snap.offset(line, character)

    def _notice_until_loaded(self, uri: str) -> None:
        """A request while the model loads is answered with nothing at once; the editor is told
        why until the model is ready."""
        notice = self.loading_notices[uri] = BusyNotice(self.server, uri, 0)

        async def settle() -> None:
            try:
                while self.server.host.state == "loading":
                    await self.server.host.wait_ready()
            finally:
                notice.done()
                self.loading_notices.pop(uri, None)

        asyncio.ensure_future(settle())

    def _warm(self, engine, request: CompletionRequest, uri: str) -> None:
        """Prefill the full window in the background, at the lowest priority but diagnostics'."""
        warm = getattr(engine, "warm", None)
        if warm is not None:
            full = replace(request, time_budget_ms=0.0)
            self.server.worker.submit(WARM, lambda cancel: warm(full, cancel), key=("warm", uri))

    def _supersede(self, uri: str) -> int:
        """A newer request supersedes this document's older one at once: its debounce wait ends
        (it answers nothing) and its model call, if running, is cancelled."""
        self.seq[uri] += 1
        old_wait, old_job = self.waiters.pop(uri, None), self.inflight.pop(uri, None)
        if old_wait is not None and not old_wait.done():
            old_wait.set_result(None)
        if old_job is not None:
            old_job.cancel()
        return self.seq[uri]

    async def _debounce(self, uri: str, ms: int) -> None:
        loop = asyncio.get_running_loop()
        waiter = self.waiters[uri] = loop.create_future()
        timer = loop.call_later(ms / 1000, lambda: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            timer.cancel()
            if self.waiters.get(uri) is waiter:
                del self.waiters[uri]

    async def suggest(self, uri: str, line: int, character: int, invoked: bool = False) -> Suggestion | None:
        arrived = asyncio.get_running_loop().time()
        found = self.cursor(uri, line, character)
        if found is None:
            return None
        ls = self.server
        snap, offset = found
        settings = ls.settings.completion
        prefix, suffix = snap.text[:offset], snap.text[offset:]
        suffix_line = suffix.split("\n", 1)[0]
        mine = self._supersede(uri)
        for listener in self.listeners:
            listener.request(snap, offset)

        # An explicit request with alternatives asks the model: the cache holds one answer only.
        hit = None if (invoked and settings.alternatives > 1) else self.cache.lookup(uri, prefix, suffix_line)
        if hit is not None:
            return self._tell(Suggestion(snap, offset, hit, "cached", cached=True))
        notice = BusyNotice(ls, uri, settings.busy_after_ms)
        try:
            return self._tell(await self._model_call(snap, offset, prefix, suffix, suffix_line, mine, invoked, arrived))
        finally:
            notice.done()

    def _tell(self, s: Suggestion | None) -> Suggestion | None:
        if s is not None:
            for listener in self.listeners:
                listener.shown(s)
        return s

    async def _model_call(self, snap: Snapshot, offset: int, prefix: str, suffix: str, suffix_line: str,
                          mine: int, invoked: bool, arrived: float) -> Suggestion | None:
        ls, uri = self.server, snap.uri
        settings = ls.settings.completion
        if not invoked and settings.debounce_ms:
            await self._debounce(uri, settings.debounce_ms)
        if self.seq[uri] != mine or _moved(ls, snap):
            return None
        # An explicit request waits as long as it takes; a typing one is not shown late.
        deadline_ms = 0 if invoked else settings.deadline_ms
        left_ms = deadline_ms - (asyncio.get_running_loop().time() - arrived) * 1000 if deadline_ms else 0.0
        request = CompletionRequest(
            prefix=prefix, suffix=suffix, language=snap.language_id, path=snap.path, mode=settings.mode,  # type: ignore[arg-type]
            max_tokens=settings.max_tokens, budget=settings.prompt_budget,
            time_budget_ms=max(left_ms, 1.0) if (deadline_ms and settings.adaptive) else 0.0,
            n=settings.alternatives if (invoked or settings.alternatives_on == "always") else 1,
        )
        engine = ls.host.engine
        if engine is None:
            return None
        captured = self.contexts.capture(snap) if settings.context else None
        sent = {"request": request}

        def run(cancel):
            # On the inference thread: the context is selected there, off the event loop.
            if captured is not None:
                try:
                    chosen = self.contexts.select(captured, offset, int(request.budget * WindowConfig().context_share))
                    sent["request"] = replace(request, context=chosen.files, repo_name=chosen.repo_name,
                                              repo_path=chosen.repo_path)
                except Exception as exc:  # noqa: BLE001 - without context, the completion still comes
                    log.warning("repository context failed: %r", exc)
            return engine.complete(sent["request"], cancel)

        # Same key for the same document: this cancels the previous, superseded request's decoding.
        job = ls.worker.submit(COMPLETION, run, key=("complete", uri))
        self.inflight[uri] = job
        try:
            waiting = asyncio.wrap_future(job.future)
            if deadline_ms:
                completions = await asyncio.wait_for(asyncio.shield(waiting), timeout=max(left_ms, 1.0) / 1000)
            else:
                completions = await waiting
        except asyncio.TimeoutError:
            # Too late to show: the prefill goes on into the KV cache, so that the next request
            # at this place is fast; the full window is then warmed in the background.
            job.token.abandon()
            if settings.adaptive:
                self._warm(engine, sent["request"], uri)
            return None
        except asyncio.CancelledError:
            job.cancel()  # $/cancelRequest, or superseded: stop decoding now
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # $/cancelRequest: pygls answers RequestCancelled
            return None  # superseded by a newer request: answer nothing
        except Exception as exc:  # noqa: BLE001 - one failed completion must not take the server down
            log.warning("completion failed: %s", exc)
            return None
        finally:
            if self.inflight.get(uri) is job:
                del self.inflight[uri]
        if completions and completions[0].narrowed and settings.adaptive:
            self._warm(engine, sent["request"], uri)
        if not completions or _moved(ls, snap):
            return None  # nothing worth showing, or the document moved on: drop it
        shown = self._gate(completions, sent["request"], snap.language_id, invoked)
        if not shown:
            return None
        best = shown[0]
        self.cache.put(uri, prefix, suffix_line, best.text)
        return Suggestion(snap, offset, best.text, best.mode, cached=False,
                          alternatives=tuple(c.text for c in shown[1:]))

    def _gate(self, completions, request: CompletionRequest, language: str, invoked: bool) -> list:
        """The candidates the confidence gate lets through (model/gate.py), best first."""
        settings = self.server.settings.completion
        context = "".join(code for _path, code in request.context)
        return [c for c in completions if c.text and gate.decide(
            c.text, c.confidence, request.prefix, request.suffix, settings.gate_threshold, language, context,
            invoked, settings.gate_comments, c.logprobs, c.stop_reason).show]


def _moved(ls: "WingmanServer", snap: Snapshot) -> bool:
    """Stale means not the newest: any change since, whatever version number it carried."""
    return not ls.documents.is_current(snap)
