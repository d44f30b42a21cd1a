"""Bad input, one kind at a time; after each, a normal completion must still work."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound

from lsp_harness import Session, plain

URI = "file:///tmp/wingman-robust/ok.py"


async def works(s: Session) -> None:
    r = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=0, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    assert r is not None and r.items[0].insert_text


def raw(s: Session, body: bytes) -> None:
    s.client._server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)


async def test_bad_input_one_by_one(s: Session, tmp_path):
    await s.start({"fakeEngine": {"completion": "1 + 1"}})
    s.editor.open(URI, "x = ")
    await works(s)

    raw(s, b"{this is not json")
    await works(s)
    raw(s, b'{"jsonrpc": "2.0", "id": 99, "method": "textDocument/inlineCompletion", "params": {"bogus": 1}}')
    await works(s)
    raw(s, b'{"no": "jsonrpc"}')
    await works(s)
    raw(s, b'{"jsonrpc": "2.0", "method": "x", "params": "\xff\xfe invalid utf-8"}')
    await works(s)

    with pytest.raises(JsonRpcMethodNotFound):
        await s.client.protocol.send_request_async("wingman/noSuchMethod", {})
    s.client.protocol.notify("wingman/noSuchNotification", {})
    await works(s)

    # Positions past the end, negative ones, and documents never opened: nothing, no error.
    for line, ch in ((10_000, 0), (0, 10_000)):
        await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=line, character=ch),
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    never = (tmp_path / "never.py").as_uri()
    assert await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=never), position=types.Position(line=0, character=0),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked))) is None
    assert await s.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=never),
        range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)),
        context=types.CodeActionContext(diagnostics=[]))) is None
    await works(s)

    # Invalid UTF-8 on disk, in a document the editor never opened: commands answer nothing.
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"def f():\n    return '\xff\xfe'\n")
    result = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="wingman.generateTests", arguments=[bad.as_uri(), {"line": 1, "character": 4}]))
    assert result is None
    # Bad command arguments: an error answer, and the server goes on.
    with pytest.raises(JsonRpcException):
        await s.client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="wingman.translate", arguments=[{"nonsense": True}]))
    await works(s)

    # A 10 MB document, completed at its end and in its middle.
    big_uri = (tmp_path / "big.py").as_uri()
    big = ("value = 'ünïcødé 中文 😀'\n" * 400_000)[: 10 * 2**20]
    s.editor.open(big_uri, big)
    end = s.editor.end_of(big_uri)
    for pos in (end, types.Position(line=200_000, character=8)):
        r = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=big_uri), position=pos,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
        assert r is not None and r.items[0].range.start == pos
    s.editor.type_at_end(big_uri, "x = ")
    await works(s)


async def test_settings_warn_by_name_and_keep_defaults(s: Session):
    await s.start({"completion": {"maxTokens": "many", "speed": 3}, "colour": "blue", "diagnostics": {"threshold": 5}})
    warnings = [m.message for m in s.client.messages if m.type == types.MessageType.Warning]
    assert any("`completion.maxTokens`" in w for w in warnings)
    assert any("`completion.speed`" in w for w in warnings)
    assert any("`colour`" in w for w in warnings)
    assert any("`diagnostics.threshold`" in w for w in warnings)
    status = plain(await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.status")))
    assert status["state"] == "ready"
    assert status["settings"]["completion"]["maxTokens"] == 64
    # didChangeConfiguration, as VS Code sends it (settings.wingman) and as Neovim may (bare).
    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"wingman": {"completion": {"maxTokens": 12}}}))
    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"completion": {"mode": "multi"}}))
    status = plain(await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.status")))
    assert status["settings"]["completion"]["maxTokens"] == 12
    assert status["settings"]["completion"]["mode"] == "multi"


async def test_model_load_failure_is_shown_and_server_stays_up(s: Session, tmp_path):
    await s.start({"fakeEngine": None, "model": {"backend": "local", "path": str(tmp_path / "no-such-model")}},
                  wait_ready=False)
    status = await s.editor.status("error")
    assert "no-such-model" in status["message"] or "not found" in status["message"].lower()
    errors = [m.message for m in s.client.messages if m.type == types.MessageType.Error]
    # Advice for this failure: fix the path; pulling the default model would not help.
    assert errors and "wingman.model.path" in errors[0] and "model pull" not in errors[0]
    s.editor.open(URI, "x = ")
    r = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=0, character=4),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    assert r is None
    # Fixing the setting reloads, and completion starts working.
    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"wingman": {"fakeEngine": {"completion": "1"}}}))
    await s.editor.status("ready")
    await works(s)


def test_tcp_loopback():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "wingman", "serve", "--engine", "fake", "--tcp", f"127.0.0.1:{port}"],
                            stderr=subprocess.PIPE)
    try:
        # Wait for the server to say it listens (a blocking read, no polling).
        while b"Serving on" not in (line := proc.stderr.readline()):
            assert line, "the server exited before listening"
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
        conn.settimeout(30)
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        data = b""
        while b'"id": 1' not in data and b'"id":1' not in data:
            chunk = conn.recv(65536)
            assert chunk, "connection closed"
            data += chunk
        assert b"inlineCompletionProvider" in data
        conn.close()
    finally:
        proc.kill()
        proc.wait()
