from __future__ import annotations

from lsprotocol import types

from lsp_harness import Session


async def test_initialize_then_loads_with_progress(s: Session):
    result = await s.start(wait_ready=False)
    caps = result.capabilities
    assert caps.inline_completion_provider is not None
    assert set(caps.execute_command_provider.commands) >= {
        "wingman.generateTests", "wingman.translate", "wingman.codeFromComment", "wingman.accept", "wingman.status"}
    # Neovim 0.11 does not declare inline completion: it gets the fallback; VS Code does not.
    assert (caps.completion_provider is not None) == (s.caps == "neovim")
    ready = await s.editor.status("ready")
    assert ready["model"] == "fake"
    states = [p["state"] for p in s.editor.of("wingman/status")]
    assert states[0] == "loading" and states[-1] == "ready"
    kinds = [p.value["kind"] for p in s.editor.of("$/progress")]
    assert kinds[0] == "begin" and kinds[-1] == "end"


async def test_inline_completion(s: Session):
    await s.start({"fakeEngine": {"completion": "a + b\n"}})
    uri = "file:///tmp/wingman-e2e/add.py"
    s.editor.open(uri, "def add(a, b):\n    return ")
    result = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=11),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
    assert [i.insert_text for i in result.items] == ["a + b"]
    item = result.items[0]
    assert item.range.start == item.range.end == types.Position(line=1, character=11)
    assert item.command.command == "wingman.accept"
