"""A byte-level LSP client for transport and lifecycle tests: it writes whatever bytes a test
gives it (broken frames included) to `wingman serve` over stdio and reads the server's frames on a
thread, so a test can wait for an answer to a given id (or for the process to end) on an event.

pytest-lsp's client cannot send a malformed frame or a request before `initialize`; this one
can, and it answers every server-to-client request with `null` so the server never waits on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

GUARD_S = float(os.environ.get("WINGMAN_TEST_GUARD_S", "120"))  # a hung server, not a delay


class NoAnswer(AssertionError):
    pass


def frame(body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


def strict_loads(body: bytes) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity are not JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")
    return json.loads(body, parse_constant=refuse)


class RawServer:
    def __init__(self, *extra: str, env: dict | None = None, stderr_path: str | None = None,
                 fake_flag: bool = True) -> None:
        """`fake_flag`: start with `--engine fake` (it wins over any setting); without it, the
        `fakeEngine` setting picks the fake, and other engines can be chosen by settings."""
        cmd = [sys.executable, "-m", "wingman", "serve", *(("--engine", "fake") if fake_flag else ()), *extra]
        self._stderr = open(stderr_path or os.devnull, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env={**os.environ, **(env or {})})
        self.messages: list[dict] = []  # every frame the server sent, in order
        self.raw_bodies: list[bytes] = []
        self.bad_output: list[bytes] = []  # frames that are not strict JSON
        self._cond = threading.Condition()
        self._closed = False
        self._next_id = 1000
        # How to answer the server's requests, by method (the default: null).
        self.answers: dict[str, Callable[[Any], Any]] = {}
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # --- output ---------------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    line = line.strip()
                    if not line:
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length is None:
                    continue
                body = out.read(length)
                try:
                    msg = strict_loads(body)
                except ValueError:
                    msg = json.loads(body)
                    with self._cond:
                        self.bad_output.append(body)
                if isinstance(msg, dict) and "method" in msg and "id" in msg:
                    self._answer_server_request(msg)
                with self._cond:
                    self.raw_bodies.append(body)
                    self.messages.append(msg)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _answer_server_request(self, msg: dict) -> None:
        result: Any = None
        if msg["method"] in self.answers:
            result = self.answers[msg["method"]](msg.get("params"))
        elif msg["method"] == "workspace/configuration":
            result = [None for _ in msg.get("params", {}).get("items", [])]
        try:
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        except OSError:
            pass

    def wait_for(self, pred: Callable[[Any], bool], start: int = 0, what: str = "a message") -> Any:
        """The first message (from index `start`) that satisfies `pred`; NoAnswer if the server
        closes its output or the guard runs out first."""
        def found() -> Any:
            return next((m for m in self.messages[start:] if pred(m)), None)
        with self._cond:
            ok = self._cond.wait_for(lambda: found() is not None or self._closed, GUARD_S)
            hit = found()
        if hit is None:
            raise NoAnswer(f"no {what} ({'server closed its output' if ok else 'guard ran out'})")
        return hit

    def response(self, msg_id: Any, start: int = 0) -> dict:
        return self.wait_for(lambda m: isinstance(m, dict) and "method" not in m and m.get("id", ...) == msg_id,
                             start, f"answer to id {msg_id!r}")

    def notification(self, method: str, pred: Callable[[Any], bool] = lambda p: True, start: int = 0) -> Any:
        return self.wait_for(lambda m: isinstance(m, dict) and m.get("method") == method and "id" not in m
                             and pred(m.get("params")), start, method)["params"]

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    # --- input ----------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.write(frame(json.dumps(message)))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: Any = None, msg_id: Any = None) -> Any:
        msg_id = self.new_id() if msg_id is None else msg_id
        msg = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return msg_id

    def call(self, method: str, params: Any = None) -> dict:
        """A request and its answer (the whole response object)."""
        start = self.mark()
        return self.response(self.request(method, params), start)

    def notify(self, method: str, params: Any = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    # --- sessions -------------------------------------------------------------------------
    def initialize(self, options: dict | None = None, capabilities: dict | None = None, wait_ready: bool = True) -> dict:
        # No completion deadline: on a loaded machine a late answer would be null, and these rows
        # are about what the transport answers, not when (the deadline has its own tests).
        opts = {"fakeEngine": {"completion": "1 + 1"},
                "completion": {"debounceMs": 0, "deadlineMs": 0, "alternatives": 1, "gateThreshold": 0},
                "diagnostics": {"debounceMs": 0}, **(options or {})}
        caps = capabilities if capabilities is not None else {
            "textDocument": {"inlineCompletion": {}}, "window": {"workDoneProgress": True}}
        start = self.mark()
        answer = self.call("initialize", {"processId": None, "rootUri": None, "capabilities": caps,
                                          "initializationOptions": opts})
        self.notify("initialized", {})
        if wait_ready:
            self.notification("wingman/status", lambda p: p.get("state") == "ready", start)
        return answer

    def open(self, uri: str, text: str, version: int = 1, language: str = "python") -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language,
                                                              "version": version, "text": text}})

    def inline(self, uri: str, line: int, character: int) -> dict:
        return self.call("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character},
            "context": {"triggerKind": 1}})

    def exit_code(self) -> int:
        try:
            return self.proc.wait(GUARD_S)
        except subprocess.TimeoutExpired:
            raise NoAnswer("the server did not exit") from None

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._stderr.close()

    def __enter__(self) -> "RawServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
