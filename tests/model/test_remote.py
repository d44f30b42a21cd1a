"""The remote backend against a small OpenAI-compatible server on loopback."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from model.config import EngineConfig
from model.engine import EngineError
from model.factory import load_engine
from model.types import CancelToken, CompletionRequest


class Handler(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def _sse(self, chunks):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for c in chunks:
            self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append((self.path, body, self.headers.get("Authorization")))
        if self.path == "/v1/completions" and body.get("echo"):
            text = body["prompt"]
            toks = [text[:4], text[4:8], text[8:]]
            payload = {"choices": [{"logprobs": {"tokens": toks, "token_logprobs": [None, -0.5, -9.0],
                                                 "text_offset": [0, 4, 8],
                                                 "top_logprobs": [None, {toks[1]: -0.5}, {"+": -0.2, toks[2]: -9.0}]}}]}
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/v1/completions":
            self._sse([{"choices": [{"text": t}]} for t in ["a + ", "b", ")\n", "print(1)"]])
        elif self.path == "/v1/chat/completions":
            self._sse([{"choices": [{"delta": {"content": t}}]} for t in ["def ", "f(): ", "pass"]])
        else:
            self.send_response(404)
            self.end_headers()


@pytest.fixture
def server():
    Handler.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_complete_applies_the_same_stop_rules_and_trimming(server):
    engine = load_engine(EngineConfig(backend="remote", remote_url=server, remote_model="m", fim_template="qwen",
                                      remote_api_key="k"))
    out = engine.complete(CompletionRequest(prefix="x = add(", suffix=")\n", mode="single"))
    assert [c.text for c in out] == ["a + b"]
    path, body, auth = Handler.seen[-1]
    assert body["prompt"] == "<|fim_prefix|>x = add(<|fim_suffix|>)\n<|fim_middle|>"
    assert body["stream"] is True and auth == "Bearer k"


def test_generate_streams(server):
    engine = load_engine(EngineConfig(backend="remote", remote_url=server))
    assert "".join(engine.generate([{"role": "user", "content": "f"}])) == "def f(): pass"


def test_score_reads_prompt_logprobs(server):
    engine = load_engine(EngineConfig(backend="remote", remote_url=server))
    scores = engine.score("abcdefgh-ij")
    assert [(s.text, s.logprob, s.best_text) for s in scores] == [("efgh", -0.5, "efgh"), ("-ij", -9.0, "+")]


def test_cancelled_request_returns_nothing(server):
    engine = load_engine(EngineConfig(backend="remote", remote_url=server))
    cancel = CancelToken()
    cancel.cancel()
    assert engine.complete(CompletionRequest(prefix="x = ", mode="single"), cancel) == []


def test_unreachable_server_is_a_clear_error():
    engine = load_engine(EngineConfig(backend="remote", remote_url="http://127.0.0.1:9/v1"))
    with pytest.raises(EngineError, match="cannot reach the remote server"):
        engine.complete(CompletionRequest(prefix="x = "))


def test_the_remote_engine_sends_the_same_repository_context(server):
    engine = load_engine(EngineConfig(backend="remote", remote_url=server, remote_model="m", fim_template="qwen"))
    engine.complete(CompletionRequest(prefix="x = add(", suffix=")\n", mode="single", repo_name="calc",
                                      repo_path="app.py", context=(("ops.py", "def add(a, b):\n    return a + b\n"),)))
    _path, body, _auth = Handler.seen[-1]
    assert body["prompt"] == ("<repo_name>calc<file_sep><filename>ops.py\ndef add(a, b):\n    return a + b\n"
                              "<file_sep><filename>app.py\n<|fim_prefix|>x = add(<|fim_suffix|>)\n<|fim_middle|>")
