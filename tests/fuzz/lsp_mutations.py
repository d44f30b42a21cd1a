"""Mutations for the LSP fuzzer: of one message's structure, of a session's order, and of the
bytes of its frames. Everything draws from one `random.Random`, so a seed replays a run.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

# Values that broke servers before: wrong types, LSP's integer limits and beyond, odd strings.
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**31 - 1, 2**31, 2**53 + 1, 2**64, -(2**31) - 1, "", "x" * 5000, "\ud800",
    "\udfff\ud800", "😀", "a\u2028b", "\x00", "\r\n", "../../etc/passwd", "file:///etc/shadow", "untitled:x",
    [], [None], {}, {"line": 0}, {"line": -1, "character": 0}, {"a": {"b": {"c": []}}}, [[[[[[[[]]]]]]]],
    "NaN", "1e400", "python", "wingman.toggle", "textDocument/inlineCompletion",
]
METHODS = ["initialize", "initialized", "shutdown", "exit", "textDocument/didOpen", "textDocument/didChange",
           "textDocument/didClose", "textDocument/inlineCompletion", "textDocument/completion",
           "textDocument/codeAction", "workspace/executeCommand", "workspace/didChangeConfiguration",
           "$/cancelRequest", "$/setTrace", "window/workDoneProgress/cancel", "wingman/unknown", "$/unknown"]
COMMANDS = ["wingman.accept", "wingman.toggle", "wingman.status", "wingman.generateTests", "wingman.translate",
            "wingman.codeFromComment", "wingman.none"]
# Never mutated into the server: the fake engine stays (no model download, no real model).
PINNED = ("fakeEngine",)


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            if k not in PINNED:
                out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:50]):
            out += _paths(v, path + (i,))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _odd_like(value: Any, rng: random.Random) -> Any:
    """A value of the wrong type or range for `value`, often."""
    r = rng.random()
    if isinstance(value, bool) and r < 0.5:
        return rng.choice([None, 1, "true", not value])
    if isinstance(value, int) and r < 0.5:
        return rng.choice([value + 1, value - 1, -value - 1, value * 1000, 2**31, 2**31 - 1, str(value), float(value) + 0.5])
    if isinstance(value, str) and r < 0.5:
        if value.startswith("file://"):
            return rng.choice([value + "x", value.replace("file://", "file:///tmp/../"), "file://", "not a uri", value.upper()])
        if "/" in value and r < 0.25:
            return rng.choice(METHODS)
        if value.startswith("wingman."):
            return rng.choice(COMMANDS)
        return rng.choice([value[: len(value) // 2], value * 3, value + "\ud800", "😀" + value, value.swapcase()])
    if isinstance(value, list) and r < 0.5 and value:
        return rng.choice([[], value * 2, value[::-1], [value[0]] * 100, value[: len(value) // 2]])
    if isinstance(value, dict) and r < 0.5 and value:
        return rng.choice([{}, list(value.values()), {k: None for k in value}])
    return copy.deepcopy(rng.choice(ODD_VALUES))


def mutate_message(message: Any, rng: random.Random, keep: tuple[str, ...] = ()) -> Any:
    """One to three structure-aware edits: a key dropped, a value replaced by an odd one, a key
    added, a list shortened or grown. Top-level keys in `keep` are not dropped."""
    msg = copy.deepcopy(message)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(msg) if p and not (len(p) == 1 and p[0] in keep)]
        if not paths:
            break
        path = rng.choice(paths)
        parent, key = _get(msg, path[:-1]), path[-1]
        op = rng.random()
        if op < 0.25 and isinstance(parent, dict):
            del parent[key]
        elif op < 0.35 and isinstance(parent, dict):
            parent[rng.choice(["extra", "id", "params", "range", "text", "uri", "version"])] = _odd_like(None, rng)
        elif op < 0.4 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        else:
            parent[key] = _odd_like(parent[key], rng)
    return msg


def mutate_session(messages: list[dict], rng: random.Random, rate: float) -> list[Any]:
    """Each message mutated with probability `rate`; some dropped, repeated or swapped with the
    next; now and then a batch, a bare value, or a message from nowhere."""
    out: list[Any] = []
    for msg in messages:
        r = rng.random()
        if r < rate * 0.1:
            continue
        item = mutate_message(msg, rng) if rng.random() < rate else copy.deepcopy(msg)
        out.append(item)
        if r > 1 - rate * 0.05:
            out.append(copy.deepcopy(item))
    for _ in range(int(len(out) * rate * 0.1)):
        i = rng.randrange(len(out)) if out else 0
        out.insert(i, rng.choice([
            [copy.deepcopy(rng.choice(messages))], [], rng.choice(ODD_VALUES),
            {"jsonrpc": "2.0", "id": rng.randint(0, 50), "method": rng.choice(METHODS), "params": rng.choice(ODD_VALUES)},
        ]))
    if len(out) > 2 and rng.random() < rate:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


def encode(message: Any) -> bytes:
    return json.dumps(message).encode()


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


BREAKAGES = 12


def break_frame(body: bytes, rng: random.Random, choice: int | None = None) -> bytes:
    """One frame with its framing or bytes broken, as clients and pipes break them (breakage
    `choice` of BREAKAGES, else a random one)."""
    n = len(body)
    choice = rng.randrange(BREAKAGES) if choice is None else choice
    if choice == 0:
        return b"Content-Length: %d\r\n\r\n" % max(0, n - rng.randint(1, 20)) + body
    if choice == 1:
        return b"Content-Length: %d\r\n\r\n" % (n + rng.randint(1, 200)) + body
    if choice == 2:
        return b"content-length: %d\r\n\r\n" % n + body
    if choice == 3:
        return b"Content-Length: %d\n\n" % n + body
    if choice == 4:
        return b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" % n + body
    if choice == 5:
        return rng.choice([b"Content-Length: 2147483648\r\n\r\n", b"Content-Length: 100000000000\r\n\r\n",
                           b"Content-Length: -5\r\n\r\n", b"Content-Length: abc\r\n\r\n", b"Content-Length:\r\n\r\n"]) + body
    if choice == 6:  # garbage before the frame
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + frame(body)
    if choice == 7:  # a byte flipped in the body
        b = bytearray(body)
        if b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        return frame(bytes(b))
    if choice == 8:  # truncated body, honest length
        cut = body[: rng.randrange(n + 1)]
        return frame(cut)
    if choice == 9:  # a header without its blank line
        return b"Content-Length: %d\r\n" % n + body
    if choice == 10:
        return frame(body) + b"\r\n" * rng.randint(1, 3)
    return b"X-Junk: " + b"y" * rng.randint(0, 9000) + b"\r\n" + frame(body)


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    """The stream as a pipe may deliver it: in pieces of any size."""
    out, i = [], 0
    while i < len(data):
        step = rng.choice([1, 7, 64, 4096, 65536, len(data)])
        out.append(data[i:i + step])
        i += step
    return out
