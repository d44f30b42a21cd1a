"""Running a user-requested generation (translate, tests, code) on the inference worker.

It reports `$/progress` and stops on the progress's cancel button or on `$/cancelRequest` for
the command; typing does not cancel it (it has no supersede key), and a keystroke's completion
does not wait behind it: it runs between two of the generation's tokens.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from model.tasks import prompts
from model.types import ChatMessage
from server.worker import GENERATION

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)

INTERLEAVING_BACKENDS = {"local", "fake"}


def on_request_cancelled(ls: "WingmanServer", callback: Callable[[], None]) -> None:
    """pygls runs a command inside its own executeCommand handler, so `$/cancelRequest` cancels
    that outer request's future, not our task: watch that future."""
    msg_id = ls.protocol.msg_id
    fut = ls.protocol._request_futures.get(msg_id) if msg_id is not None else None  # noqa: SLF001
    if fut is not None:
        fut.add_done_callback(lambda f: callback() if f.cancelled() else None)


def tell(ls: "WingmanServer", message: str, kind: types.MessageType = types.MessageType.Info) -> None:
    ls.window_show_message(types.ShowMessageParams(type=kind, message=message))


def not_ready(ls: "WingmanServer") -> bool:
    if ls.host.ready:
        return False
    tell(ls, f"Wingman: the model is not ready ({ls.host.state}: {ls.host.message}).", types.MessageType.Warning)
    return True


async def generate(ls: "WingmanServer", title: str, messages: list[ChatMessage], max_tokens: int = 768,
                   language: str | None = None, *, temperature: float = 0.0, progress: Any = None,
                   label: str = "") -> str | None:
    """The reply's text, or None when cancelled or failed (the user has been told why).
    With `progress` (one begun by the caller, which also ends it: several samples share one),
    this reports on it under `label` and leaves it open unless cancelled or failed."""
    engine = ls.host.engine
    if engine is None:
        return None
    own = progress is None
    if own:
        progress = await ls.begin_progress(title, "generating", cancellable=True)
    loop = asyncio.get_running_loop()

    # Between tokens a local engine's generation is a suspended generator over its own KV-cache
    # slot, so a completion can run in the pause (server/worker.py, run_urgent); a remote server
    # might queue that completion behind the very stream we paused, so it waits instead.
    interleave = getattr(getattr(engine, "info", None), "backend", "") in INTERLEAVING_BACKENDS

    def run(cancel: Any) -> str:
        parts: list[str] = []
        stream = (engine.generate(messages, cancel, max_tokens, temperature=temperature) if temperature
                  else engine.generate(messages, cancel, max_tokens))
        try:
            for i, delta in enumerate(stream):
                parts.append(delta)
                if interleave:
                    ls.worker.run_urgent(GENERATION)
                if i % 8 == 7:
                    loop.call_soon_threadsafe(progress.report, f"{label}{sum(map(len, parts))} characters")
                if cancel.cancelled or ("`" in delta and prompts.block_closed("".join(parts), language)):
                    break  # what follows a closed code block is chatter: stop paying for it
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        return "".join(parts)

    job = ls.worker.submit(GENERATION, run)
    progress.on_cancel(job.cancel)
    on_request_cancelled(ls, job.cancel)
    try:
        reply = await asyncio.wrap_future(job.future)
    except asyncio.CancelledError:
        job.cancel()
        progress.end("cancelled")
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        return None
    except Exception as exc:  # noqa: BLE001 - tell the user, keep serving
        log.exception("generation failed")
        progress.end("failed")
        tell(ls, f"Wingman: generation failed: {exc}", types.MessageType.Error)
        return None
    if job.token.cancelled:
        progress.end("cancelled")
        return None
    if own:
        progress.end("done")
    return reply


async def apply(ls: "WingmanServer", edit: types.WorkspaceEdit, label: str) -> bool:
    try:
        result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label=label))
    except Exception as exc:  # noqa: BLE001 - an error answer (or a malformed one) is a refusal
        log.info("applyEdit failed: %s", exc)
        result = None
    if result is None or not result.applied:  # a client may answer null
        tell(ls, f"Wingman: the editor did not apply “{label}”"
                 + (f": {result.failure_reason}" if result is not None and result.failure_reason else " (the document changed?)"),
             types.MessageType.Warning)
    return bool(result is not None and result.applied)


async def show(ls: "WingmanServer", uri: str) -> None:
    if ls.client_show_document:
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
        except Exception as exc:  # noqa: BLE001 - showing is a courtesy
            log.info("showDocument failed: %s", exc)


async def write_new_file(ls: "WingmanServer", uri: str, text: str, label: str) -> bool:
    """A generated file, on disk and shown. A client with resource operations gets CreateFile +
    the text (it saves it: editors/); whatever it did, the file ends up holding the text. A client
    without them cannot create files, so the server writes it. Never overwrites a file with
    content of its own: the caller picks a name that is free."""
    from server import edits
    from server.documents import uri_to_path

    path = Path(uri_to_path(uri))
    if ls.client_can_create_files:
        if not await apply(ls, edits.create_file(uri, text), label):
            return False
        # Written only after the edit was applied (before it, CreateFile would truncate it), and
        # only where the client left the new file empty on disk.
        try:
            if not path.exists() or path.stat().st_size == 0:
                path.write_text(text, encoding="utf-8")
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "x", encoding="utf-8") as f:  # "x": never overwrite
                f.write(text)
        except OSError as exc:
            tell(ls, f"Wingman: could not write {path}: {exc}", types.MessageType.Error)
            return False
    await show(ls, uri)
    return True
