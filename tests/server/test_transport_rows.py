"""Issue 18, the transport's rows: one bad frame must neither kill nor silence the server.

Each test drives `wingman serve --engine fake` over stdio with raw bytes (raw_lsp.py) and fails
on the server before the fix: it aborted, went deaf, or answered nothing.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from raw_lsp import RawServer, frame

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz"))
from lsp_mutations import mutate_message  # noqa: E402

URI = "file:///tmp/wingman-rows/a.py"


@pytest.fixture
def s(tmp_path):
    with RawServer(env={"WINGMAN_HOME": str(tmp_path)}, stderr_path=str(tmp_path / "stderr.log")) as server:
        server.initialize()
        server.open(URI, "x = ")
        yield server
        assert not server.bad_output, "the server sent a frame that is not strict JSON"


def inline_request(msg_id: int) -> bytes:
    return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "textDocument/inlineCompletion", "params": {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}, "context": {"triggerKind": 1}}}))


def answered_all(s: RawServer, ids: list[int], start: int) -> None:
    """Every request answered; a burst's earlier ones may be superseded by the next (null), as an
    editor's would be, but the last is always the suggestion."""
    for msg_id in ids:
        answer = s.response(msg_id, start)
        assert "error" not in answer, answer
        if msg_id == ids[-1] or answer["result"] is not None:
            assert answer["result"]["items"][0]["insertText"] == "1 + 1", answer


def test_huge_content_length_is_refused_and_the_server_lives(s: RawServer):
    for header in (b"Content-Length: 100000000000\r\n\r\n", b"Content-Length: " + b"9" * 40 + b"\r\n\r\n"):
        start = s.mark()
        ids = [s.new_id() for _ in range(3)]
        s.write(header + b"".join(inline_request(i) for i in ids))
        refusal = s.wait_for(lambda m: isinstance(m, dict) and m.get("id", 0) is None and "error" in m, start)
        assert refusal["error"]["code"] == -32600 and "limit" in refusal["error"]["message"]
        answered_all(s, ids, start)
    assert s.proc.poll() is None


def test_a_bad_frame_does_not_deafen_the_server(s: RawServer):
    body = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "textDocument/inlineCompletion", "params": {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}, "context": {"triggerKind": 1}},
        "note": "ünïcødé 中文"}, ensure_ascii=False).encode()
    bad_frames = {
        "10 bytes short": b"Content-Length: %d\r\n\r\n" % (len(body) - 10) + body,
        "100 bytes long": b"Content-Length: %d\r\n\r\n" % (len(body) + 100) + body,
        "counted in characters": b"Content-Length: %d\r\n\r\n" % len(body.decode()) + body,
        "lowercase header": b"content-length: %d\r\n\r\n" % len(body) + body,
        "LF line ends": b"Content-Length: %d\n\n" % len(body) + body,
        "2147483648, no body": b"Content-Length: 2147483648\r\n\r\n",
    }
    for name, bad in bad_frames.items():
        start = s.mark()
        ids = [s.new_id() for _ in range(10)]
        s.write(bad + b"".join(inline_request(i) for i in ids))
        answered_all(s, ids, start)
        if name in ("100 bytes long", "lowercase header", "LF line ends"):
            assert "result" in s.response(7, start), name  # and the frame itself was read
        else:  # answered, or reported as broken: never silence
            s.wait_for(lambda m: isinstance(m, dict) and (m.get("id") == 7 or (m.get("id", 0) is None and "error" in m)),
                       start, f"an answer after the {name} frame")


NOT_JSON = [b"{this is not json", b"[1, 2", b"NaN", b"-Infinity", b'{"a": 1e400}', b'{"a": "\xff\xfe"}', b"",
            b'{"a": 1}}', b"\xef\xbb\xbf{}", b"[" * 100_000 + b"]" * 100_000]


def test_bodies_that_are_not_json_get_parse_errors(s: RawServer):
    for body in NOT_JSON:
        start = s.mark()
        s.write(frame(body))
        answer = s.wait_for(lambda m: isinstance(m, dict) and "error" in m, start, f"a parse error for {body[:20]!r}")
        assert answer["id"] is None and answer["error"]["code"] == -32700, (body[:20], answer)
    start = s.mark()
    answered_all(s, [s.request("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}, "context": {"triggerKind": 1}})], start)


@pytest.mark.parametrize("message,code,answer_id", [
    ({"id": 31, "method": "wingman/x"}, -32600, 31),  # no "jsonrpc"
    ({"jsonrpc": "1.0", "id": 32, "method": "wingman/x"}, -32600, 32),
    ({"jsonrpc": "2.0", "id": 33}, -32600, 33),  # no method, no result
    ({"jsonrpc": "2.0", "id": True, "method": "wingman/x"}, -32600, None),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "wingman/x"}, -32600, None),
    ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "wingman/x"}, -32600, None),
    ({"jsonrpc": "2.0", "id": 34, "method": 5}, -32600, 34),
    ("just a string", -32600, None),
    ({"jsonrpc": "2.0", "id": 35, "method": "wingman/noSuchMethod"}, -32601, 35),
])
def test_json_that_is_not_json_rpc_is_answered(s: RawServer, message, code, answer_id):
    start = s.mark()
    s.send(message)
    answer = s.wait_for(lambda m: isinstance(m, dict) and "error" in m, start, "an error answer")
    assert answer["error"]["code"] == code and answer["id"] == answer_id


def test_batches_are_answered_with_errors(s: RawServer):
    start = s.mark()
    s.send([{"jsonrpc": "2.0", "id": 41, "method": "wingman/x"}, {"jsonrpc": "2.0", "method": "wingman/n"}, 5])
    batch = s.wait_for(lambda m: isinstance(m, list), start, "a batch answer")
    assert [(e["id"], e["error"]["code"]) for e in batch] == [(41, -32600), (None, -32600)]
    start = s.mark()
    s.send([])
    empty = s.wait_for(lambda m: isinstance(m, dict) and "error" in m, start, "an answer to the empty batch")
    assert empty["id"] is None and empty["error"]["code"] == -32600


@pytest.mark.parametrize("params", [
    {"textDocument": 5, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 1}},
    None,  # no params at all
    {"textDocument": {"uri": URI}, "context": {"triggerKind": 1}},  # no position
    {"textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}, "context": {"triggerKind": 1}},
    {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 2**31}, "context": {"triggerKind": 1}},
    "a string",
])
def test_malformed_params_get_invalid_params(s: RawServer, params):
    answer = s.call("textDocument/inlineCompletion", params)
    assert answer["error"]["code"] == -32602, answer


def test_every_mutated_request_is_answered(s: RawServer):
    """The issue's structure-aware mutation, over stdio: each mutant of a valid request gets an
    answer, and the server still completes afterwards."""
    rng = random.Random(18)
    valid = [
        {"method": "textDocument/inlineCompletion", "params": {"textDocument": {"uri": URI},
         "position": {"line": 0, "character": 4}, "context": {"triggerKind": 1}}},
        {"method": "textDocument/codeAction", "params": {"textDocument": {"uri": URI}, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 4}}, "context": {"diagnostics": []}}},
        {"method": "workspace/executeCommand", "params": {"command": "wingman.status", "arguments": []}},
        {"method": "workspace/executeCommand", "params": {"command": "wingman.toggle", "arguments": [True]}},
        {"method": "workspace/executeCommand", "params": {"command": "wingman.accept", "arguments": [
            {"id": 1, "language": "python", "mode": "single"}]}},
        {"method": "textDocument/completion", "params": {"textDocument": {"uri": URI},
         "position": {"line": 0, "character": 4}}},
    ]
    start = s.mark()
    ids = []
    for i in range(300):
        msg = mutate_message({"jsonrpc": "2.0", "id": 0, **rng.choice(valid)}, rng, keep=("id", "jsonrpc", "method"))
        msg["id"] = msg_id = 10_000 + i
        if msg.get("method") in ("shutdown", "exit", "initialize"):
            continue
        s.send(msg)
        ids.append(msg_id)
    for msg_id in ids:
        s.response(msg_id, start)
    s.call("workspace/executeCommand", {"command": "wingman.toggle", "arguments": [True]})
    s.open(URI, "x = ")  # a mutant may have closed it
    start = s.mark()
    answered_all(s, [s.request("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 4}, "context": {"triggerKind": 1}})], start)
