"""wingman.codeFromComment [uri, position]: write the code a comment or docstring describes.

Two shapes are recognised: a Python function whose body is only a docstring (or `pass` / `...`
under a comment), and, in any language, a comment line with nothing but blank lines after it
at the cursor. The generated code replaces the empty body, or goes under the comment.

Checked as a translation is (model/tasks/examples.py): up to `actions.codeCandidates` candidates
(the first greedy), each in the file as it would be after the edit; it must parse, and the
docstring's examples run against it in the sandbox. Sampling stops at a candidate that parses and
passes every example; else the best one is written. The message says what was checked.
"""

from __future__ import annotations

import asyncio
import ast
import re
import textwrap
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from server import edits
from server.documents import Snapshot
from server.features.commands import CODE_FROM_COMMENT, position_args
from lsprotocol import types

from server.generation import apply, generate, not_ready, on_request_cancelled, tell
from model.tasks import examples, prompts, pysource

if TYPE_CHECKING:
    from server.server import WingmanServer

_COMMENT = re.compile(r"^\s*(#|//|--|/\*|\*)")


@dataclass
class Target:
    start: int  # what the code replaces, as offsets
    end: int
    indent: str
    stub: str  # what the model is shown as the thing to complete
    function: pysource.Function | None = None


def find_target(snap: Snapshot, offset: int) -> Target | None:
    if snap.language_id == "python" and len(snap.text) < 500_000:
        fn = pysource.function_at(snap.text, offset)
        if fn is not None and pysource.is_stub(fn):
            start, end, indent = pysource.body_span(snap.text, fn)
            return Target(start, end, indent, fn.source, fn)
    # A comment block ending on the cursor's line, or just above a blank cursor line.
    line, _ = snap.position(offset)
    starts = snap.starts
    text_of = lambda i: snap.text[starts[i]: starts[i + 1] if i + 1 < len(starts) else len(snap.text)].rstrip("\r\n")  # noqa: E731
    i = line
    while i > 0 and not text_of(i).strip():
        i -= 1
    if not _COMMENT.match(text_of(i)):
        return None
    nxt = i + 1
    while nxt < len(starts) and not text_of(nxt).strip():
        nxt += 1
    first = i
    while first > 0 and _COMMENT.match(text_of(first - 1)):
        first -= 1
    comment = "\n".join(text_of(k) for k in range(first, i + 1))
    indent = re.match(r"\s*", text_of(i)).group()
    end_of_comment = starts[i] + len(text_of(i))
    # Only when nothing follows the comment yet: a blank line, the end, or a dedent. A comment
    # directly above code at its level describes code that exists.
    if nxt == i + 1 and nxt < len(starts) and len(re.match(r"\s*", text_of(nxt)).group()) >= len(indent):
        return None
    return Target(end_of_comment, end_of_comment, indent, comment)


def _body_from_reply(code: str, target: Target) -> str:
    fn = target.function
    if fn is not None:
        tree = pysource.parse(code)
        if tree is not None:
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == fn.node.name:
                    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                    if not body:
                        break
                    lines = code.split("\n")[body[0].lineno - 1: body[-1].end_lineno]
                    return textwrap.dedent("\n".join(lines))
        # No parsable def: take what follows the def line and its docstring, if any.
        code = re.sub(r"^.*?def [^\n]*\n(\s*(\"\"\"|''').*?\2\s*\n)?", "", code, count=1, flags=re.S)
    else:
        stub_lines = {ln.strip() for ln in target.stub.split("\n")}
        code = "\n".join(ln for ln in code.split("\n") if ln.strip() not in stub_lines)
    return textwrap.dedent(code).strip("\n")


def _check(snap: Snapshot, target: Target, new_text: str) -> examples.CodeCheck:
    after = snap.text[:target.start] + new_text + snap.text[target.end:]
    if snap.language_id == "python":
        fn = target.function
        return examples.check_python(after, fn.name if fn else None, fn.node if fn else None)
    return examples.check_other(prompts.canonical(snap.language_id), snap.text, after)


def _insertion(reply: str, snap: Snapshot, target: Target) -> str:
    body = _body_from_reply(prompts.extract_code(reply, snap.language_id), target)
    if not body.strip():
        return ""
    new_text = "\n" + textwrap.indent(body, target.indent, lambda ln: True)
    return "\n".join(ln.rstrip() for ln in new_text.split("\n"))


async def candidates(ls: "WingmanServer", snap: Snapshot, target: Target):
    """(insertion text, its check, candidates tried), or None when cancelled or failed."""
    a = ls.settings.actions
    n = a.code_candidates
    progress = await ls.begin_progress("Wingman: writing code", "generating", cancellable=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    progress.on_cancel(lambda: loop.call_soon_threadsafe(stop.set))
    on_request_cancelled(ls, lambda: loop.call_soon_threadsafe(stop.set))
    messages = prompts.code_from_comment(snap.text[:target.start], target.stub, snap.language_id)
    t0 = time.perf_counter()
    best: tuple | None = None
    tried = 0
    while tried < n and (tried == 0 or time.perf_counter() - t0 < a.translate_budget_s) and not stop.is_set():
        label = f"candidate {tried + 1}/{n}: "
        reply = await generate(ls, "", messages, max_tokens=384, language=snap.language_id, progress=progress,
                               label=label, temperature=0.0 if tried == 0 else 0.7)
        if reply is None or stop.is_set():
            progress.end("cancelled")
            return None
        tried += 1
        text = _insertion(reply, snap, target)
        if not text.strip():
            progress.report(f"{label}no code")
            continue
        check = await asyncio.to_thread(_check, snap, target, text)
        progress.report(f"{label}{check.describe()}", int(100 * tried / n))
        if best is None or check.score > best[1].score:
            best = (text, check)
        if check.complete:
            break  # it parses (or cannot be parsed here) and every example passes: nothing better to find
    if stop.is_set():
        progress.end("cancelled")
        return None
    progress.end("done")
    return (best[0], best[1], tried) if best else ("", None, tried)


def register(server: "WingmanServer") -> None:
    @server.command(CODE_FROM_COMMENT)
    async def code_from_comment(ls, *args: Any) -> dict | None:
        uri, pos = position_args(args)
        snap = ls.snapshot(uri)
        if snap is None or not ls.servable(snap) or not_ready(ls):
            return None
        target = find_target(snap, snap.offset(pos.line, pos.character))
        if target is None:
            tell(ls, "Wingman: put the cursor on a comment or docstring above an empty body.")
            return None
        got = await candidates(ls, snap, target)
        if got is None:
            return None
        new_text, check, tried = got
        if not new_text.strip():
            tell(ls, "Wingman: the model returned no code.")
            return {"applied": False, "text": ""}
        kind = types.MessageType.Info if check.parses is not False and check.passed == check.examples \
            else types.MessageType.Warning
        tell(ls, f"Wingman: code from comment: {check.describe()} ({tried} candidate{'s' if tried != 1 else ''}).", kind)
        applied = await apply(ls, edits.replace(ls, snap, target.start, target.end, new_text), "Code from comment")
        return {"applied": applied, "uri": uri, "text": new_text, "parses": check.parses,
                "examples": check.examples, "examplesPassed": check.passed, "candidates": tried}
