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


async def test_one_bad_setting_is_named_and_the_rest_still_apply(s: Session):
    """didChangeConfiguration with an invalid value, an unknown key and valid ones: both problems
    are shown by name with what is expected, and the valid keys take effect."""
    await s.start()
    before = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.status"))
    mark = len(s.client.messages)
    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"wingman": {
        "completion": {"maxTokens": "lots", "debounceMs": 250},
        "diagnostics": {"threshold": -6.5, "maxPerFile": 3.5},
        "bogus": 1,
    }}))
    status = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.status"))
    texts = [m.message for m in s.client.messages[mark:]]
    assert any("`completion.maxTokens`" in t and "expected an integer" in t for t in texts), texts
    assert any("`diagnostics.maxPerFile`" in t for t in texts), texts
    assert any("unknown setting `bogus`" in t and "completion" in t for t in texts), texts
    settings = status["settings"]
    assert settings["completion"]["debounceMs"] == 250 and settings["diagnostics"]["threshold"] == -6.5
    assert settings["completion"]["maxTokens"] == before["settings"]["completion"]["maxTokens"]
    assert settings["diagnostics"]["maxPerFile"] == before["settings"]["diagnostics"]["maxPerFile"]
