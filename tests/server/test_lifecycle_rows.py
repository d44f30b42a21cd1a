"""Issue 18, the lifecycle's rows (LSP spec, "Lifecycle Messages"), over stdio.

Each test fails on the server before the fix: `exit` always ended with 0 (or aborted), an early
`initialized` wedged loading, a second `initialize` reset the settings, and requests after
`shutdown` (or before `initialize`) got no answer.
"""

from __future__ import annotations

import pytest

from raw_lsp import RawServer

URI = "file:///tmp/wingman-lifecycle/a.py"


@pytest.fixture
def fresh(tmp_path):
    with RawServer(env={"WINGMAN_HOME": str(tmp_path)}, stderr_path=str(tmp_path / "stderr.log")) as server:
        yield server


def use(s: RawServer) -> None:
    s.initialize()
    s.open(URI, "x = ")
    assert s.inline(URI, 0, 4)["result"]["items"]


def test_exit_after_shutdown_is_0(fresh: RawServer):
    use(fresh)
    assert fresh.call("shutdown")["result"] is None
    fresh.notify("exit")
    assert fresh.exit_code() == 0


def test_exit_without_shutdown_is_1(fresh: RawServer):
    use(fresh)
    fresh.notify("exit")
    assert fresh.exit_code() == 1


@pytest.mark.parametrize("shut_down,code", [(True, 0), (False, 1)])
def test_closing_stdin_ends_the_process(fresh: RawServer, shut_down, code):
    use(fresh)
    if shut_down:
        fresh.call("shutdown")
    fresh.close_stdin()
    assert fresh.exit_code() == code


def test_requests_before_initialize_get_server_not_initialized(fresh: RawServer):
    answer = fresh.call("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}})
    assert answer["error"]["code"] == -32002
    assert fresh.call("shutdown")["error"]["code"] == -32002
    use(fresh)  # and a normal session follows


def test_initialized_before_initialize_does_not_wedge_loading(fresh: RawServer):
    fresh.notify("initialized", {})
    fresh.initialize()  # waits for wingman/status "ready"
    fresh.open(URI, "x = ")
    assert fresh.inline(URI, 0, 4)["result"]["items"]


def test_a_second_initialize_is_refused_and_keeps_the_settings(fresh: RawServer):
    fresh.initialize({"telemetry": {"enabled": False}, "completion": {"maxTokens": 7, "debounceMs": 0}})
    again = fresh.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert again["error"]["code"] == -32600
    status = fresh.call("workspace/executeCommand", {"command": "wingman.status", "arguments": []})["result"]
    assert status["settings"]["telemetry"]["enabled"] is False
    assert status["settings"]["completion"]["maxTokens"] == 7


def test_requests_after_shutdown_get_invalid_request(fresh: RawServer):
    use(fresh)
    fresh.call("shutdown")
    for method, params in [("textDocument/inlineCompletion", {"textDocument": {"uri": URI}, "position": {
            "line": 0, "character": 4}, "context": {"triggerKind": 1}}),
            ("workspace/executeCommand", {"command": "wingman.status", "arguments": []}),
            ("shutdown", None), ("wingman/whatever", {})]:
        assert fresh.call(method, params)["error"]["code"] == -32600, method
    fresh.notify("exit")
    assert fresh.exit_code() == 0


@pytest.mark.real_model
def test_the_real_model_never_aborts_at_exit(tmp_path):
    """6 of 14 runs ended with SIGABRT ("terminate called without an active exception") before:
    the process ended while torch's threads were still up. Each run here: load the real default
    model, complete, then shutdown + exit (three runs) or exit alone (three runs)."""
    from lsp_harness import REAL_HOME

    codes = []
    for i in range(6):
        with RawServer(env={"WINGMAN_HOME": REAL_HOME}, stderr_path=str(tmp_path / f"stderr{i}.log")) as s:
            s.initialize({"fakeEngine": None, "model": {"backend": "local"}, "telemetry": {"enabled": False},
                          "completion": {"maxTokens": 8, "debounceMs": 0}})
            s.open(URI, "def add(a, b):\n    return ")
            s.inline(URI, 1, 11)
            if i % 2 == 0:
                s.call("shutdown")
            s.notify("exit")
            codes.append(s.exit_code())
    assert codes == [0, 1, 0, 1, 0, 1], (codes, [(tmp_path / f"stderr{i}.log").read_text()[-500:] for i in range(6)])
