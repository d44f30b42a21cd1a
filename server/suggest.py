"""The shared path of inline completion and its textDocument/completion fallback:
snapshot -> type-ahead cache -> debounce -> one model call on the worker -> stale check.

Returns plain data (offsets into the snapshot); the features turn it into LSP items.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.types import CompletionRequest
from server.documents import Snapshot
from server.worker import COMPLETION

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)

# The engine budgets the prompt in tokens; we only cut absurdly long documents before they are
# tokenized. The cut moves in coarse, line-aligned steps so that the prompt's first token stays
# put across keystrokes and the engine's KV cache stays valid (DESIGN.md, "Windows, not trims").
CHARS_PER_TOKEN_MAX = 12


@dataclass
class Suggestion:
    snap: Snapshot
    offset: int  # the cursor, as a str offset into snap.text
    text: str  # to insert at the cursor
    mode: str
    cached: bool  # served from the type-ahead cache, no model call


def window(text: str, offset: int, budget: int) -> tuple[str, str]:
    limit = budget * CHARS_PER_TOKEN_MAX
    step = max(limit // 4, 1)
    start = 0
    if offset > limit:
        start = ((offset - limit) // step) * step
        nl = text.find("\n", start, offset)
        start = nl + 1 if nl >= 0 else start
    end = min(len(text), offset + limit // 2)
    return text[start:offset], text[offset:end]


def cursor(ls: "WingmanServer", uri: str, line: int, character: int) -> tuple[Snapshot, int] | None:
    """The open, servable document and the cursor offset; None for anything we must not answer."""
    if not ls.host.ready or not ls.settings.completion.enabled:
        return None
    snap = ls.snapshot(uri)
    if snap is None or not ls.servable(snap) or not snap.has_line(line) or character < 0:
        return None
    return snap, snap.offset(line, character)


async def suggest(ls: "WingmanServer", uri: str, line: int, character: int, invoked: bool = False) -> Suggestion | None:
    found = cursor(ls, uri, line, character)
    if found is None:
        return None
    snap, offset = found
    settings = ls.settings.completion
    prefix_full, suffix_full = snap.text[:offset], snap.text[offset:]
    suffix_line = suffix_full.split("\n", 1)[0]

    # A newer request supersedes this document's older one at once: its debounce wait ends
    # (it answers nothing) and its model call, if running, is cancelled.
    ls.debounce_seq[uri] += 1
    mine = ls.debounce_seq[uri]
    old_wait, old_job = ls.debounce_waiters.pop(uri, None), ls.inflight.pop(uri, None)
    if old_wait is not None and not old_wait.done():
        old_wait.set_result(None)
    if old_job is not None:
        old_job.cancel()

    hit = ls.cache.lookup(uri, prefix_full, suffix_line)
    if hit is not None:
        return Suggestion(snap, offset, hit, "cached", cached=True)

    if not invoked and settings.debounce_ms:
        loop = asyncio.get_running_loop()
        waiter = ls.debounce_waiters[uri] = loop.create_future()
        timer = loop.call_later(settings.debounce_ms / 1000, lambda: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        finally:
            timer.cancel()
            if ls.debounce_waiters.get(uri) is waiter:
                del ls.debounce_waiters[uri]
    if ls.debounce_seq[uri] != mine or _moved(ls, snap):
        return None

    prefix, suffix = window(snap.text, offset, settings.prompt_budget)
    request = CompletionRequest(
        prefix=prefix, suffix=suffix, language=snap.language_id, path=snap.path, mode=settings.mode,  # type: ignore[arg-type]
        max_tokens=settings.max_tokens, budget=settings.prompt_budget,
    )
    engine = ls.host.engine
    if engine is None:
        return None
    # Same key for the same document: this cancels the previous, superseded request's decoding.
    job = ls.worker.submit(COMPLETION, lambda cancel: engine.complete(request, cancel), key=("complete", uri))
    ls.inflight[uri] = job
    try:
        completions = await asyncio.wrap_future(job.future)
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
        if ls.inflight.get(uri) is job:
            del ls.inflight[uri]
    if not completions or _moved(ls, snap):
        return None  # nothing worth showing, or the document moved on: drop it
    best = completions[0]
    if not best.text:
        return None
    ls.cache.put(uri, prefix_full, suffix_line, best.text)
    return Suggestion(snap, offset, best.text, best.mode, cached=False)


def _moved(ls: "WingmanServer", snap: Snapshot) -> bool:
    now = ls.snapshot(snap.uri)
    return now is None or now.version != snap.version
