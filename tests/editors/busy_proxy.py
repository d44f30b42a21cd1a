"""A stand-in for the server side of `wingman/busy` (server/PROTOCOL.md), for the editor tests.

    python busy_proxy.py [--busy-after-ms 400] [--hold-ready FILE] -- wingman serve --engine fake ...

Runs the real server as a child and relays LSP over stdio both ways, adding what the server will
send itself once it implements the spec:
- `wingman/busy` {uri, busy: true, reason, message, elapsedMs} when a `textDocument/inlineCompletion`
  has waited `--busy-after-ms` without an answer, and busy: false when it is answered or cancelled;
- with `--hold-ready FILE`: the server's `wingman/status` "ready" is held back until FILE exists;
  meanwhile the client sees {state: "loading", progress: {step, percentage: 62}} and busy requests
  get reason "loading". This lets a test look at the loading state for as long as it needs, then
  end it by creating FILE (an event, not a timer).

Test code only; the server is not changed. Lines of its own go to stderr prefixed `busy_proxy:`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

INLINE = "textDocument/inlineCompletion"


def read_message(stream) -> dict | None:
    length = None
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if length is None:
        return None
    return json.loads(stream.read(length))


def frame(msg: dict) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Proxy:
    def __init__(self, cmd: list[str], busy_after_ms: int, hold_ready: str | None) -> None:
        self.child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.busy_after = busy_after_ms / 1000
        self.hold_ready = hold_ready
        self.out_lock = threading.Lock()
        self.pending: dict = {}  # request id -> {uri, t0, timer, busy}
        self.lock = threading.Lock()
        self.loading = hold_ready is not None
        self.held_status: dict | None = None

    def to_client(self, msg: dict) -> None:
        with self.out_lock:
            sys.stdout.buffer.write(frame(msg))
            sys.stdout.buffer.flush()

    def notify_busy(self, uri: str, busy: bool, elapsed_s: float) -> None:
        reason = "loading" if self.loading else "computing"
        message = ("waiting for the model to load (62%)" if self.loading else "thinking…") if busy else ""
        self.to_client({"jsonrpc": "2.0", "method": "wingman/busy", "params": {
            "uri": uri, "busy": busy, "reason": reason, "message": message, "elapsedMs": int(elapsed_s * 1000)}})

    def fire(self, rid) -> None:
        with self.lock:
            p = self.pending.get(rid)
            if not p:
                return
            p["busy"] = True
        self.notify_busy(p["uri"], True, time.monotonic() - p["t0"])

    def settle(self, rid) -> None:
        with self.lock:
            p = self.pending.pop(rid, None)
        if p:
            p["timer"].cancel()
            if p["busy"]:
                self.notify_busy(p["uri"], False, time.monotonic() - p["t0"])

    def client_to_server(self) -> None:
        stdin = sys.stdin.buffer
        while True:
            msg = read_message(stdin)
            if msg is None:
                break
            if msg.get("method") == INLINE and "id" in msg:
                uri = msg.get("params", {}).get("textDocument", {}).get("uri", "")
                timer = threading.Timer(self.busy_after, self.fire, args=(msg["id"],))
                with self.lock:
                    self.pending[msg["id"]] = {"uri": uri, "t0": time.monotonic(), "timer": timer, "busy": False}
                timer.start()
            self.child.stdin.write(frame(msg))
            self.child.stdin.flush()
        self.child.stdin.close()

    def server_to_client(self) -> None:
        while True:
            msg = read_message(self.child.stdout)
            if msg is None:
                break
            if msg.get("method") == "wingman/status" and self.loading:
                params = msg.get("params") or {}
                if params.get("state") == "ready":
                    self.held_status = msg
                    msg = {"jsonrpc": "2.0", "method": "wingman/status", "params": {
                        **params, "state": "loading", "message": "loading model weights",
                        "progress": {"step": "loading model weights", "percentage": 62}}}
            self.to_client(msg)
            # A cancelled request is answered too (an error), which settles it.
            if "id" in msg and "method" not in msg:
                self.settle(msg["id"])

    def release_when_file_exists(self) -> None:
        while not os.path.exists(self.hold_ready):
            time.sleep(0.05)  # polls the test's signal; the test itself waits on the editor
        self.loading = False
        while self.held_status is None:
            time.sleep(0.05)
        self.to_client(self.held_status)

    def run(self) -> int:
        threads = [threading.Thread(target=self.client_to_server, daemon=True)]
        if self.hold_ready:
            threads.append(threading.Thread(target=self.release_when_file_exists, daemon=True))
        for t in threads:
            t.start()
        self.server_to_client()
        return self.child.wait()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--busy-after-ms", type=int, default=400)
    ap.add_argument("--hold-ready")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    return Proxy(cmd, args.busy_after_ms, args.hold_ready).run()


if __name__ == "__main__":
    sys.exit(main())
