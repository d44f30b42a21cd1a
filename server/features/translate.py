"""wingman.translate [uri, range, targetLanguage]: translate a selection, verified.

Several candidates, one at a time (the first greedy, the rest sampled; `actions.translateCandidates`
and `actions.translateBudgetS`), each checked by the target's toolchain and, for a Python source,
run against the source on generated inputs (model/tasks/verify.py). Sampling stops at the first
verified candidate. One `$/progress` covers them all and its cancel button stops the lot. The
result starts with a one-line comment saying what was checked ("verified against the Python
source on 14 inputs, all branches" or "unverified: differs on mean([]): ..."), and the message
says it again; unverified output never reads as verified.

The translation is a new file beside the source, on disk and shown (CreateFile + an edit for a
client that can create files, else written by the server; never overwriting), or replaces the
selection (`actions.translateTarget: "replace"`, a versioned edit).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server import edits
from server.features.commands import TRANSLATE, BadArguments, _uri, range_arg
from server.generation import apply, generate, not_ready, on_request_cancelled, tell, write_new_file
from model.tasks import prompts, verify

if TYPE_CHECKING:
    from server.server import WingmanServer


def target_uri(ls: "WingmanServer", source_path: str, target: str) -> str:
    ext = prompts.LANGUAGES[target][1]
    src = Path(source_path)
    candidate = src.with_suffix(ext)
    n = 2
    while candidate.exists() or edits.path_to_uri(candidate) in ls.documents:
        candidate = src.with_name(f"{src.stem}_{n}{ext}")
        n += 1
    return edits.path_to_uri(candidate)


def options_of(ls: "WingmanServer") -> verify.VerifyOptions:
    a = ls.settings.actions
    return verify.VerifyOptions(candidates=a.translate_candidates, budget_s=a.translate_budget_s,
                                min_inputs=a.verify_min_inputs)


async def translate_verified(ls: "WingmanServer", code: str, source_language: str, target: str,
                             module_text: str | None) -> verify.Result | None:
    """The candidate loop of verify.run, with generation on the inference worker and the checks
    in a thread; None when cancelled or failed (the user has been told)."""
    name = prompts.display(target)
    options = options_of(ls)
    progress = await ls.begin_progress(f"Wingman: translating to {name}", "preparing inputs", cancellable=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    progress.on_cancel(lambda: loop.call_soon_threadsafe(stop.set))
    on_request_cancelled(ls, lambda: loop.call_soon_threadsafe(stop.set))
    t0 = time.perf_counter()
    try:
        plan = await asyncio.to_thread(verify.plan, code, source_language, target, module_text, options)
    except Exception as exc:  # noqa: BLE001 - a checker failure must not lose the translation
        plan = verify.Plan(source_language, target, notes=[f"the inputs could not be run: {exc}"])
    messages = prompts.translate(code, source_language, target)
    done: list[verify.Candidate] = []
    while verify.keep_sampling(done, options, time.perf_counter() - t0) and not stop.is_set():
        k = len(done)
        label = f"candidate {k + 1}/{options.candidates}: "
        g0 = time.perf_counter()
        reply = await generate(ls, "", messages, language=target, progress=progress, label=label,
                               temperature=0.0 if k == 0 else options.temperature)
        if reply is None or stop.is_set():
            progress.end("cancelled")
            return None
        cand = verify.Candidate(k, prompts.extract_code(reply, target), time.perf_counter() - g0)
        if cand.code.strip():
            progress.report(f"{label}checking", int(100 * (k + 0.5) / options.candidates))
            await asyncio.to_thread(verify.check, cand, plan, options)
        else:
            cand.summary = "unverified: the model returned no code"
        done.append(cand)
        progress.report(f"{label}{cand.summary}", int(100 * (k + 1) / options.candidates))
    if stop.is_set():  # cancel means nothing is written, even with candidates in hand
        progress.end("cancelled")
        return None
    chosen = verify.choose(done)
    stopped = "verified" if chosen is not None and chosen.verified else "count" if len(done) >= options.candidates \
        else "budget"
    progress.end("verified" if stopped == "verified" else "unverified")
    return verify.Result(plan, done, chosen, time.perf_counter() - t0, stopped)


def register(server: "WingmanServer") -> None:
    @server.command(TRANSLATE)
    async def translate(ls, *args: Any) -> dict | None:
        if len(args) == 1 and isinstance(args[0], dict):
            a = args[0]
            args = (a.get("uri"), a.get("range"), a.get("target") or a.get("targetLanguage"))
        if len(args) != 3:
            raise BadArguments("expected [uri, range, targetLanguage]")
        uri, rng, target = _uri(args[0]), range_arg(args[1]), prompts.canonical(str(args[2]))
        if target not in prompts.LANGUAGES:
            raise BadArguments(f"target language must be one of {', '.join(prompts.LANGUAGES)}")
        snap = ls.snapshot(uri)
        if snap is None or not ls.servable(snap) or not_ready(ls):
            return None
        start, end = snap.offset(rng.start.line, rng.start.character), snap.offset(rng.end.line, rng.end.character)
        code = snap.text[start:end]
        if not code.strip():
            tell(ls, "Wingman: select the code to translate first.")
            return None
        name = prompts.display(target)
        result = await translate_verified(ls, code, snap.language_id, target, snap.text)
        if result is None or result.chosen is None:
            return None
        chosen = result.chosen
        if not chosen.code.strip():
            tell(ls, "Wingman: the model returned no code.")
            return {"applied": False, "text": ""}
        out = verify.header(chosen, result.plan, len(result.candidates)) + chosen.code
        kind = types.MessageType.Info if chosen.verified else types.MessageType.Warning
        tried = f"{len(result.candidates)} candidate{'s' if len(result.candidates) != 1 else ''}"
        tell(ls, f"Wingman: translation to {name} {chosen.summary} ({tried}, {result.seconds:.0f} s).", kind)
        info = {"verified": chosen.verified, "summary": chosen.summary, "candidates": len(result.candidates)}
        if ls.settings.actions.translate_target == "replace":
            applied = await apply(ls, edits.replace(ls, snap, start, end, out), f"Translate to {name}")
            return {"applied": applied, "uri": uri, "text": out, **info}
        new_uri = target_uri(ls, snap.path, target)
        applied = await write_new_file(ls, new_uri, out, f"Translate to {name}")
        return {"applied": applied, "uri": new_uri, "text": out, "language": target, **info}
