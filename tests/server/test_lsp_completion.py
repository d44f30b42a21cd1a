"""Inline completion and its fallback, end to end over stdio, for Neovim and VS Code clients."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol

from lsp_harness import Session

URI = "file:///tmp/wingman-e2e/mod.py"


def inline(s: Session, uri: str, line: int, character: int, msg_id: str | None = None, invoked: bool = False):
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind))
    # Sent now (not when first awaited), so that tests can order it against other messages.
    future = JsonRPCProtocol.send_request(s.client.protocol, types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id=msg_id)
    return asyncio.wrap_future(future)


def texts(result) -> list[str]:
    return [i.insert_text for i in result.items] if result else []


async def test_single_line_mid_line_and_multi_line_after_opener(s: Session):
    await s.start({"fakeEngine": {"completion": "total = 0\n    for v in values:\n        total += v\n    return total\n\n\nx = 1\n"}})
    # On an empty line after a block opener: multi-line, stopping at the dedent.
    s.editor.open(URI, "def total(values):\n    \n")
    r = await inline(s, URI, 1, 4)
    assert texts(r) == ["total = 0\n    for v in values:\n        total += v\n    return total"]
    # Text after the cursor on its line: single line.
    s.editor.replace_all(URI, "def total(values):\n    x = \n")
    r = await inline(s, URI, 1, 8)
    assert texts(r) == ["total = 0"]


async def test_utf16_positions_on_cjk_and_emoji_lines(s: Session):
    # The fake "model" writes `b)`; the suffix after the cursor is `)`, so the engine trims the
    # echo to `b` only if the server split prefix and suffix at exactly the right character.
    await s.start({"fakeEngine": {"completion": "b)"}})
    line = 'x = f("中文😀", )'
    s.editor.open(URI, "# 注释 😀\n" + line + "\n")
    cursor_cp = line.index(")")  # code points before the cursor
    assert cursor_cp == 13
    character = {"utf-16": 14, "utf-8": 20, "utf-32": 13}[s.editor.encoding]  # 😀 is 2 UTF-16 units, 4 bytes
    r = await inline(s, URI, 1, character)
    assert texts(r) == ["b"]
    assert r.items[0].range.start == r.items[0].range.end == types.Position(line=1, character=character)


async def test_position_past_end_and_unopened_document_get_nothing(s: Session):
    await s.start()
    s.editor.open(URI, "a = 1\n")
    assert texts(await inline(s, URI, 40, 0)) == []
    assert texts(await inline(s, "file:///tmp/wingman-e2e/never_opened.py", 0, 0)) == []
    # A character past the end of a line means the end of the line (LSP says so).
    r = await inline(s, URI, 0, 500)
    assert r.items[0].range.start == types.Position(line=0, character=5)


async def test_debounce_drops_the_superseded_request(s: Session):
    # {n} counts model calls: only the last of a burst of requests reaches the model.
    await s.start({"fakeEngine": {"completion": "call_{n}()"}, "completion": {"debounceMs": 150}})
    s.editor.open(URI, "x = ")
    first, second = await asyncio.gather(inline(s, URI, 0, 4), inline(s, URI, 0, 4))
    assert texts(first) == []
    assert texts(second) == ["call_1()"]


async def test_a_newer_request_cancels_the_running_model_call(s: Session):
    await s.start({"fakeEngine": {"completion": "call_{n}()", "delayS": 0.3}})
    s.editor.open(URI, "x = ")
    first = inline(s, URI, 0, 4, invoked=True)  # invoked: no debounce, straight to the model
    second = inline(s, URI, 0, 4, invoked=True)
    # The first was cancelled (queued or mid-decode), so it shows nothing; the second is served.
    assert texts(await first) == []
    assert texts(await second) in (["call_1()"], ["call_2()"])


async def test_result_for_a_moved_document_version_is_dropped(s: Session):
    await s.start({"fakeEngine": {"completion": "call_{n}()", "delayS": 0.3}})
    s.editor.open(URI, "x = ")
    pending = asyncio.ensure_future(inline(s, URI, 0, 4))
    s.editor.type_at_end(URI, "y")  # arrives while the model is working
    assert texts(await pending) == []
    assert texts(await inline(s, URI, 0, 5)) == ["call_2()"]


async def test_cancel_request_is_honoured_and_serving_continues(s: Session):
    await s.start({"fakeEngine": {"completion": "call_{n}()", "delayS": 0.3}})
    s.editor.open(URI, "x = ")
    pending = asyncio.ensure_future(inline(s, URI, 0, 4, msg_id="to-cancel"))
    s.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-cancel"))
    with pytest.raises(JsonRpcException) as err:
        await pending
    assert err.value.code == -32800  # RequestCancelled
    # The model was called once or not at all, depending on whether the cancel arrived before
    # the request started; either way the next request is served.
    assert texts(await inline(s, URI, 0, 4)) in (["call_1()"], ["call_2()"])


async def test_type_ahead_reuses_the_shown_suggestion(s: Session):
    await s.start({"fakeEngine": {"completion": "hello_world_{n}()"}})
    s.editor.open(URI, "x = ")
    assert texts(await inline(s, URI, 0, 4)) == ["hello_world_1()"]
    s.editor.type_at_end(URI, "hello")
    assert texts(await inline(s, URI, 0, 9)) == ["_world_1()"]  # no model call: still 1
    s.editor.type_at_end(URI, "X")
    assert texts(await inline(s, URI, 0, 10)) == ["hello_world_2()"]  # diverged: asks the model


async def test_private_files_are_never_completed(s: Session):
    await s.start({"ignore": ["**/private/**"]})
    for uri in ("file:///tmp/p/.env", "file:///tmp/p/id_rsa", "file:///tmp/p/server.pem",
                "file:///tmp/p/credentials.py", "file:///tmp/p/private/notes.py"):
        s.editor.open(uri, "x = ")
        assert texts(await inline(s, uri, 0, 4)) == [], uri
    s.editor.open(URI, "x = ")
    assert texts(await inline(s, URI, 0, 4)) != []


async def test_disabled_language_gets_nothing(s: Session):
    await s.start({"languages": ["rust"]})
    s.editor.open(URI, "x = ")
    assert texts(await inline(s, URI, 0, 4)) == []


async def test_accept_counts_locally(s: Session, tmp_path):
    await s.start({"fakeEngine": {"completion": "1"}})
    s.editor.open(URI, "x = ")
    item = (await inline(s, URI, 0, 4)).items[0]
    await s.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments))
    # The counts live in $WINGMAN_HOME/telemetry.json (the test's temporary home).
    import json
    import os
    from pathlib import Path

    counts = json.loads((Path(os.environ["WINGMAN_HOME"]) / "telemetry.json").read_text())
    assert counts["accepted"] >= 1 and counts["accepted.python"] >= 1


async def test_completion_fallback_is_one_labelled_item(s: Session):
    result = await s.start({"fakeEngine": {"completion": "rn a + b\n"}})
    s.editor.open(URI, "def f(a, b):\n    retu")
    params = types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=URI),
                                    position=types.Position(line=1, character=8))
    if s.caps == "vscode":
        # The client has inline completion: no fallback is offered, so no second model call.
        assert result.capabilities.completion_provider is None
        with pytest.raises(JsonRpcException):
            await s.client.text_document_completion_async(params)
        return
    out = await s.client.text_document_completion_async(params)
    assert len(out.items) == 1
    item = out.items[0]
    assert item.label_details.description == "Wingman"
    assert item.text_edit.new_text == "return a + b"
    assert item.text_edit.range.start == types.Position(line=1, character=4)
    assert item.text_edit.range.end == types.Position(line=1, character=8)


async def test_fallback_off_by_option(s: Session):
    result = await s.start({"completion": {"fallback": "off"}})
    assert result.capabilities.completion_provider is None
