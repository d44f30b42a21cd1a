"""Issue 18, the rows about documents, arguments, settings and memory, over stdio. Each test
fails on the server before the fix (see the row it names)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from raw_lsp import RawServer, frame

URI = "file:///tmp/wingman-edge/a.py"
INLINE = "textDocument/inlineCompletion"


@pytest.fixture
def start(tmp_path):
    servers = []

    def make(options: dict | None = None, fake_flag: bool = True, **kw) -> RawServer:
        s = RawServer(env={"WINGMAN_HOME": str(tmp_path)}, stderr_path=str(tmp_path / f"stderr{len(servers)}.log"),
                      fake_flag=fake_flag)
        servers.append(s)
        s.initialize(options, **kw)
        return s

    yield make
    for s in servers:
        bad = list(s.bad_output)
        s.stop()
        assert not bad, f"the server sent frames that are not strict JSON: {bad[:2]}"


def inline_params(uri: str, line: int, character: int) -> dict:
    return {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}, "context": {"triggerKind": 1}}


def full_change(uri: str, version: int, text: str) -> dict:
    return {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
        "textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}}


def test_stale_means_not_the_newest(start):
    """didOpen at version 10, then changes at 5, 4, 5 with new text: the completion computed on
    the first version 5 must not be served for the second."""
    s = start({"fakeEngine": {"completion": "from_the_old_text()", "delayS": 0.5}})
    s.open(URI, "a = ", version=10)
    s.send(full_change(URI, 5, "b = "))
    msg_id = s.new_id()
    data = frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": INLINE, "params": inline_params(URI, 0, 4)}))
    data += frame(json.dumps(full_change(URI, 4, "c = "))) + frame(json.dumps(full_change(URI, 5, "d = ")))
    start_at = s.mark()
    s.write(data)  # the two changes arrive while the fake model computes (its 0.5 s)
    assert s.response(msg_id, start_at)["result"] is None


def test_a_lone_surrogate_does_not_shift_later_edits(start):
    """The server's copy must be the editor's UTF-16 buffer, lone surrogates included: the
    translate command (with a fake model that echoes the prompt) reads it back."""
    s = start({"fakeEngine": {"reply": "{last}"}})
    s.open(URI, "x = '\ud800'\n")
    # After the closing quote: x, space, =, space, ', \ud800, ' = 7 UTF-16 code units.
    s.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 7}}, "text": " < 1"}]})
    answer = s.call("workspace/executeCommand", {"command": "wingman.translate", "arguments": [
        URI, {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 11}}, "javascript"]})
    # The engine is handed the lone surrogate as U+FFFD (a tokenizer refuses it), one for one.
    # (Below the verification's header line, which says what was checked.)
    header, _, body = answer["result"]["text"].partition("\n")
    assert header.startswith("// Wingman: ") and body == "x = '\ufffd' < 1\n", answer["result"]["text"]


@pytest.mark.parametrize("value", ["yes", None, 1, {"enabled": True}])
def test_toggle_refuses_what_is_not_a_boolean(start, value):
    s = start()
    answer = s.call("workspace/executeCommand", {"command": "wingman.toggle", "arguments": [value]})
    assert answer["error"]["code"] == -32602
    s.open(URI, "x = ")
    assert s.inline(URI, 0, 4)["result"]["items"], "completion was turned off"


@pytest.mark.parametrize("command,arguments", [
    ("wingman.generateTests", [URI, {"line": 2**31, "character": 0}]),
    ("wingman.codeFromComment", [URI, {"line": 0, "character": 2**31}]),
    ("wingman.codeFromComment", [{"uri": URI, "position": {"line": 2**63, "character": 0}}]),
    ("wingman.translate", [URI, {"start": {"line": 0, "character": 0}, "end": {"line": 2**31, "character": 0}}, "javascript"]),
    ("wingman.generateTests", [URI, {"line": True, "character": 0}]),
])
def test_positions_out_of_range_in_commands_are_invalid_params(start, command, arguments):
    s = start()
    s.open(URI, "def f():\n    pass\n")
    answer = s.call("workspace/executeCommand", {"command": command, "arguments": arguments})
    assert answer["error"]["code"] == -32602, answer


def test_nan_never_reaches_the_wire(start):
    """NaN is not JSON: a body holding it is a parse error, and nothing the server sends holds
    a bare NaN (the fixture checks every frame); the threshold keeps its value."""
    s = start()
    body = (b'{"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", "params": {"settings": {"wingman": '
            b'{"diagnostics": {"threshold": NaN}, "fakeEngine": {"completion": "1 + 1", "surprising": {"<": NaN}}}}}}')
    s.write(frame(body))
    s.send({"jsonrpc": "2.0", "method": "workspace/didChangeConfiguration", "params": {"settings": {"wingman": {
        "diagnostics": {"threshold": "NaN"}}}}})
    status = s.call("workspace/executeCommand", {"command": "wingman.status", "arguments": []})
    assert status["result"]["settings"]["diagnostics"]["threshold"] == -8.0
    start_at = s.mark()
    s.write(frame(b'{"jsonrpc": "2.0", "id": 5, "method": "wingman/x", "params": {"a": Infinity}}'))
    answer = s.wait_for(lambda m: isinstance(m, dict) and "error" in m, start_at)
    assert answer["error"]["code"] == -32700 and answer["id"] is None


def test_ignore_patterns_match_in_linear_time(start):
    """`**/` fourteen times: the old glob regex backtracked exponentially (7.7 s at ten, about
    three times more per repeat) on the event loop; the guard of the wait ends that."""
    s = start({"ignore": ["**/" * 14 + "zz", "x" * 300, *(f"gen{i}/**" for i in range(150))]})
    warnings = [m["params"]["message"] for m in s.messages if isinstance(m, dict) and m.get("method") == "window/showMessage"]
    assert any("more than 100 patterns" in w for w in warnings), warnings
    assert any("over 256 characters" in w for w in warnings), warnings
    deep = "file:///" + "/".join(f"d{i}" for i in range(18)) + "/f.py"
    s.open(deep, "x = ")
    assert s.inline(deep, 0, 4)["result"]["items"]
    private = "file:///w/gen3/secret.py"  # one of the patterns kept: never sent
    s.open(private, "x = ")
    assert s.inline(private, 0, 4)["result"] is None


def test_accept_counts_only_known_keys(start, tmp_path):
    s = start()
    for bad in ([{"language": [None, None], "mode": "single"}], [[None, None]], [{"mode": {"x": 1}}], [{"id": True}]):
        answer = s.call("workspace/executeCommand", {"command": "wingman.accept", "arguments": bad})
        assert answer["error"]["code"] == -32602, bad
    ok = s.call("workspace/executeCommand", {"command": "wingman.accept", "arguments": [
        {"id": 3, "language": "klingon", "mode": "warp"}]})
    assert "error" not in ok
    s.call("workspace/executeCommand", {"command": "wingman.accept", "arguments": [
        {"id": 4, "language": "python", "mode": "single"}]})
    counts = json.loads((tmp_path / "telemetry.json").read_text())
    assert counts == {"accepted": 2, "accepted.other": 1, "accepted.python": 1, "accepted.mode.single": 1}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_no_memory_growth_per_change(start):
    """20,000 full-text didChanges, no completions: pygls kept a finished future per
    notification (2.1 KB each, 42 MB here); now the RSS stays within a few MB."""
    s = start({"diagnostics": {"enabled": False}})
    text = "def add(a, b):\n    return a + b\n" * 20
    s.open(URI, text)

    def burst(n: int, base: int) -> None:
        s.write(b"".join(frame(json.dumps(full_change(URI, base + k, text + f"# {base + k}\n"))) for k in range(n)))
        s.call("workspace/executeCommand", {"command": "wingman.status", "arguments": []})  # all of it read

    burst(2000, 2)  # warm-up: caches, arenas
    before = rss_mb(s.proc.pid)
    for b in range(20):
        burst(1000, 10_000 + b * 1000)
    grown = rss_mb(s.proc.pid) - before
    assert grown < 10, f"RSS grew by {grown:.1f} MB over 20,000 changes"


class Listener:
    """A stand-in remote model server on the loopback that only counts who connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.connections = 0
        self.connected = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self.connected.set()
            conn.sendall(b"HTTP/1.1 500 Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_workspace_remote_url_waits_for_the_users_yes(start):
    listener = Listener()
    try:
        s = start({"fakeEngine": {"completion": "1 + 1"}}, fake_flag=False)
        s.answers["window/showMessageRequest"] = lambda params: None  # the user closes the prompt
        s.open(URI, "x = ")
        at = s.mark()
        s.notify("workspace/didChangeConfiguration", {"settings": {"wingman": {
            "fakeEngine": None, "model": {"backend": "remote", "remoteUrl": listener.url}}}})
        ask = s.wait_for(lambda m: isinstance(m, dict) and m.get("method") == "window/showMessageRequest", at,
                         "a question to the user")
        assert listener.url in ask["params"]["message"]
        s.notification("window/showMessage", lambda p: "not sending code" in p["message"], at)
        assert s.inline(URI, 0, 4)["result"]["items"][0]["insertText"] == "1 + 1"  # still the engine in use
        assert listener.connections == 0

        # Said yes to: now it is used.
        s.answers["window/showMessageRequest"] = lambda params: {"title": "Allow"}
        second = listener.url.replace("/v1", "/v2")
        at = s.mark()
        s.notify("workspace/didChangeConfiguration", {"settings": {"wingman": {
            "fakeEngine": None, "model": {"backend": "remote", "remoteUrl": second}}}})
        s.notification("wingman/status", lambda p: p.get("state") == "ready" and second in p.get("model", ""), at)
        s.open(URI, "y = ")  # new text: not an answer from the type-ahead cache
        s.inline(URI, 0, 4)
        assert listener.connected.wait(60)
    finally:
        listener.close()


def test_a_remote_url_from_initialization_options_is_the_users(start):
    listener = Listener()
    try:
        s = start({"fakeEngine": None, "model": {"backend": "remote", "remoteUrl": listener.url}}, fake_flag=False,
                  wait_ready=False)
        s.notification("wingman/status", lambda p: p.get("state") == "ready")
        s.open(URI, "x = ")
        s.inline(URI, 0, 4)
        assert listener.connected.wait(60)
        assert not any(isinstance(m, dict) and m.get("method") == "window/showMessageRequest" for m in s.messages)
    finally:
        listener.close()

