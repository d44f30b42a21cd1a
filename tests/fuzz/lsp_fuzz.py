"""The LSP fuzzer: the real server (fake engine) behind the real transport, fed mutated editor
sessions and broken bytes, checked for crashes, hangs and unanswered requests.

    python tests/fuzz/lsp_fuzz.py --cases 300 --seed 18            # what `make test` runs (test_fuzz.py)
    python tests/fuzz/lsp_fuzz.py --long                           # the long run of server/README.md (~25 min)

Each case is one to three recorded sessions (sessions/*.jsonl: Neovim and VS Code) mutated by
lsp_mutations.py (messages' structure, the session's order, the frames' bytes), fed in random
pieces to a fresh `WingmanServer` in this process through `server.transport.serve` (the same loop
`wingman serve` runs; only the pipe is replaced by memory), then a sentinel request. A case fails
when:
- crash: an exception escaped the handling of a message, a task died with an error, a request was
  answered with -32603 (an internal error: bad input must get -32602 or the like), or the server
  wrote something that is not strict JSON;
- hang: the sentinel got no answer within HANG_S of a responsive server's time;
- unanswered: a request in an intact frame, before any `exit`, got no answer.
A failing case is minimised (whole frames removed while it still fails) and saved under
regressions/, which test_fuzz.py replays on every run. `--long` also runs the stdio soak: 20,000
full-text didChanges to a `wingman serve` process, its RSS before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for extra in (ROOT, HERE):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import lsp_mutations as mut  # noqa: E402

SESSIONS = HERE / "sessions"
REGRESSIONS = HERE / "regressions"
HANG_S = 20.0
MINIMISE_WAIT_S = 5.0  # answers come in milliseconds; the minimiser tries many cases
FAKE = {"completion": "return a + b\n", "reply": "```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n"}
# Pinned over whatever a case sends: the fake engine, and no sandbox runs (another issue's).
OVERRIDES = {"fakeEngine": FAKE, "actions": {"runGeneratedTests": False}}


def load_sessions() -> dict[str, list[dict]]:
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
            for p in sorted(SESSIONS.glob("*.jsonl"))}


def strict_loads(body: bytes) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)
    return json.loads(body, parse_constant=refuse)


def is_request(msg: Any) -> bool:
    return (isinstance(msg, dict) and msg.get("jsonrpc") == "2.0" and isinstance(msg.get("method"), str)
            and isinstance(msg.get("id"), (int, str)) and not isinstance(msg.get("id"), bool))


# --- the target --------------------------------------------------------------------------------
class Capture:
    """The server's output, read back as a client would."""

    def __init__(self, on_message) -> None:
        self.buf = bytearray()
        self.on_message = on_message
        self.bad: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buf[:end]).decode("ascii")
            length = int(next(v for k, _, v in (h.partition(":") for h in head.split("\r\n"))
                              if k.lower() == "content-length"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4:end + 4 + length])
            del self.buf[:end + 4 + length]
            try:
                msg = strict_loads(body)
            except ValueError:
                self.bad.append(body)
                msg = json.loads(body)
            self.on_message(msg)

    def close(self) -> None:
        pass


class Memory:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def read(self) -> bytes:
        return await self.queue.get()

    def push(self, data: bytes) -> None:
        self.queue.put_nowait(data)


class Target:
    def __init__(self) -> None:
        from server import transport
        from server.server import create_server

        self.server = create_server(dict(OVERRIDES))
        self.messages: list[Any] = []
        self.changed = asyncio.Event()
        self.capture = Capture(self._out)
        self.server.protocol.set_writer(self.capture)
        self.source = Memory()
        self.task = asyncio.ensure_future(transport.serve(self.server.protocol, self.source))
        self.task.add_done_callback(lambda _: self.changed.set())

    def _out(self, msg: Any) -> None:
        self.messages.append(msg)
        if isinstance(msg, dict) and "method" in msg and "id" in msg:  # the server asks: answer null
            result = [None] * len((msg.get("params") or {}).get("items", [])) if msg["method"] == "workspace/configuration" else None
            self.source.push(mut.frame(mut.encode({"jsonrpc": "2.0", "id": msg["id"], "result": result})))
        self.changed.set()

    async def wait(self, pred, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not pred():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                return pred()
        return True

    @property
    def exited(self) -> bool:
        return self.task.done()

    async def close(self) -> None:
        if not self.task.done():
            self.source.push(b"")
            await asyncio.wait({self.task}, timeout=HANG_S)
        # What this server left running (debounced diagnostics, loads) ends with it, as its
        # process would: cases run one after another, so every other task is this one's.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        for t in rest:
            t.cancel()
        if rest:
            await asyncio.wait(rest, timeout=HANG_S)
        self.server.stop()
        # pygls caches method types per protocol (lru_cache on a method, 128 entries): in a
        # process with one server that is bounded; here it would keep 128 dead servers alive.
        from pygls.protocol import LanguageServerProtocol

        LanguageServerProtocol.get_message_type.cache_clear()
        LanguageServerProtocol.get_result_type.cache_clear()


# --- cases -------------------------------------------------------------------------------------
@dataclass
class Case:
    frames: list[bytes]  # the bytes, frame by frame (a frame may be broken)
    expect: list[Any]  # per frame: the id its request must be answered with, or None

    @property
    def data(self) -> bytes:
        return b"".join(self.frames)

    @property
    def requests(self) -> list[Any]:
        return [e for e in self.expect if e is not None]

    def without(self, start: int, size: int) -> "Case":
        return Case(self.frames[:start] + self.frames[start + size:], self.expect[:start] + self.expect[start + size:])

    def to_json(self) -> str:
        return json.dumps({"frames": [f.decode("latin-1") for f in self.frames], "expect": self.expect}, indent=0)

    @classmethod
    def from_json(cls, text: str) -> "Case":
        d = json.loads(text)
        return cls([f.encode("latin-1") for f in d["frames"]], d["expect"])


BENIGN = {2, 3, 4, 10, 11}  # frame breakages a reader must take in its stride


def make_case(sessions: dict[str, list[dict]], rng: random.Random) -> Case:
    names = sorted(sessions)
    picked: list[Any] = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        msgs = sessions[rng.choice(names)]
        if rng.random() < 0.7:  # most cases keep the server: no shutdown/exit at the end
            msgs = [m for m in msgs if m.get("method") not in ("shutdown", "exit")]
        picked += mut.mutate_session(msgs, rng, rate=rng.choice([0.05, 0.2, 0.5]))
    frames, expect, ended = [], [], False
    frame_rate = rng.choice([0.0, 0.02, 0.1])
    for msg in picked:
        body = mut.encode(msg)
        intact = True
        if rng.random() < frame_rate:
            choice = rng.randrange(mut.BREAKAGES)
            data = mut.break_frame(body, rng, choice)
            intact = choice in BENIGN
        else:
            data = mut.frame(body)
        frames.append(data)
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "exit":
            ended = True
        expect.append(msg["id"] if intact and not ended and is_request(msg) else None)
    return Case(frames, expect)


@dataclass
class Outcome:
    crash: list[str] = field(default_factory=list)
    hang: bool = False
    unanswered: list[Any] = field(default_factory=list)

    @property
    def failed(self) -> str:
        return "crash" if self.crash else "hang" if self.hang else "unanswered" if self.unanswered else ""


async def run_case(case: Case, rng: random.Random | None = None, background: list | None = None,
                   wait_s: float = HANG_S) -> Outcome:
    target = Target()
    out = Outcome()
    errors_before = len(background) if background is not None else 0
    try:
        chunks = mut.chunked(case.data, rng) if rng else [case.data]
        for chunk in chunks:
            target.source.push(chunk)
        sentinel = "sentinel"
        target.source.push(mut.frame(mut.encode({"jsonrpc": "2.0", "id": sentinel, "method": "wingman/sentinel"})))

        def answered(msg_id: Any) -> int:
            return sum(1 for m in target.messages if isinstance(m, dict) and "method" not in m and m.get("id", ...) == msg_id)

        if not await target.wait(lambda: target.exited or answered(sentinel), wait_s):
            out.hang = True
        need: dict[Any, int] = {}
        for msg_id in case.requests:
            need[msg_id] = need.get(msg_id, 0) + 1
        if not out.hang:
            await target.wait(lambda: target.exited or all(answered(i) >= n for i, n in need.items()), wait_s)
        out.unanswered = [i for i, n in need.items() if answered(i) < n]
        if target.exited and target.task.exception() is not None:
            out.crash.append(f"the transport loop died: {target.task.exception()!r}")
        protocol = target.server.protocol
        if protocol.internal_errors:
            out.crash.append(f"{protocol.internal_errors} exceptions escaped a message's handling")
        for m in target.messages:
            if isinstance(m, dict) and isinstance(m.get("error"), dict) and m["error"].get("code") == -32603:
                out.crash.append(f"InternalError answer: {m['error'].get('message', '')[:200]}")
        if target.capture.bad:
            out.crash.append(f"not strict JSON: {target.capture.bad[0][:200]!r}")
    finally:
        await target.close()
    if background is not None and len(background) > errors_before:
        out.crash += [f"background: {e}" for e in background[errors_before:]]
    return out


def minimise(case: Case, kind: str, loop: asyncio.AbstractEventLoop, background: list) -> Case:
    """Drop frames (with what they expect) while the case still fails the same way: delta
    debugging, coarse to fine."""
    def fails(trial: Case) -> bool:
        return loop.run_until_complete(run_case(trial, None, background, wait_s=MINIMISE_WAIT_S)).failed == kind

    n = 2
    while len(case.frames) >= 2:
        size = max(1, len(case.frames) // n)
        for start in range(0, len(case.frames), size):
            trial = case.without(start, size)
            if trial.frames and fails(trial):
                case, n = trial, max(n - 1, 2)
                break
        else:
            if size == 1:
                break
            n = min(len(case.frames), n * 2)
    return case


def save_regression(case: Case, kind: str) -> Path:
    REGRESSIONS.mkdir(exist_ok=True)
    text = case.to_json()
    path = REGRESSIONS / f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
    path.write_text(text)
    return path


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Report:
    cases: int = 0
    crashes: int = 0
    hangs: int = 0
    unanswered: int = 0
    requests: int = 0
    rss_before: float = 0.0
    rss_after: float = 0.0
    saved: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def fuzz(cases: int, seed: int, seconds: float | None = None, save: bool = True) -> Report:
    sessions = load_sessions()
    rng = random.Random(seed)
    report = Report()
    home = tempfile.mkdtemp(prefix="wingman-fuzz-home-")
    # In-process servers read the cache folder from the environment; put it back afterwards, or
    # every later test in the same pytest process would look for the model in an empty folder.
    saved_home = os.environ.get("WINGMAN_HOME")
    os.environ["WINGMAN_HOME"] = home
    logging.getLogger().setLevel(logging.CRITICAL)  # the server logs every bad message it answers
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    background: list[str] = []

    def on_error(_loop, context):
        exc = context.get("exception")
        background.append(f"{context.get('message')}: {exc!r}"[:300])

    loop.set_exception_handler(on_error)
    report.rss_before = rss_mb()
    deadline = time.monotonic() + seconds if seconds else None
    try:
        for i in range(cases):
            if deadline and time.monotonic() > deadline:
                break
            case = make_case(sessions, rng)
            chunk_rng = random.Random(rng.random())
            outcome = loop.run_until_complete(run_case(case, chunk_rng, background))
            report.cases += 1
            report.requests += len(case.requests)
            kind = outcome.failed
            if not kind:
                continue
            report.crashes += bool(outcome.crash)
            report.hangs += outcome.hang
            report.unanswered += len(outcome.unanswered)
            report.examples.append(f"case {i}: {kind}: {(outcome.crash or outcome.unanswered)[:3]}")
            if save:
                small = minimise(case, kind, loop, background)
                report.saved.append(str(save_regression(small, kind)))
    finally:
        report.rss_after = rss_mb()
        loop.close()
        if saved_home is None:
            os.environ.pop("WINGMAN_HOME", None)
        else:
            os.environ["WINGMAN_HOME"] = saved_home
    return report


def replay(path: Path) -> Outcome:
    """A saved case, fed at once and in 7-byte pieces; the worse outcome."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    background: list[str] = []
    loop.set_exception_handler(lambda _l, c: background.append(f"{c.get('message')}: {c.get('exception')!r}"))
    try:
        case = Case.from_json(path.read_text())
        first = loop.run_until_complete(run_case(case, None, background))
        second = loop.run_until_complete(run_case(case, random.Random(7), background))
        return first if first.failed else second
    finally:
        loop.close()


# --- the stdio soak ----------------------------------------------------------------------------
def soak(changes: int = 20_000) -> tuple[float, float, float]:
    """RSS of a `wingman serve` process after a warm-up and after `changes` full-text didChanges
    (no completions); and the seconds it took."""
    sys.path.insert(0, str(ROOT / "tests" / "server"))
    from raw_lsp import RawServer

    text = "def add(a, b):\n    return a + b\n" * 20
    uri = "file:///tmp/wingman-soak/a.py"
    with RawServer(env={"WINGMAN_HOME": tempfile.mkdtemp(prefix="wingman-soak-")}) as s:
        s.initialize()
        s.open(uri, text)

        def burst(n: int, base: int) -> None:
            data = b"".join(mut.frame(mut.encode({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": {"uri": uri, "version": base + k}, "contentChanges": [{"text": text + f"# {base + k}\n"}]}}))
                for k in range(n))
            s.write(data)
            s.call("workspace/executeCommand", {"command": "wingman.status", "arguments": []})  # all read

        burst(2000, 2)
        before = rss_mb(s.proc.pid)
        t0 = time.monotonic()
        for b in range(changes // 1000):
            burst(1000, 10_000 + b * 1000)
        took = time.monotonic() - t0
        after = rss_mb(s.proc.pid)
    return before, after, took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=None, help="default 300; 3,000 with --long")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--seconds", type=float, default=None, help="stop after this long, whatever --cases says")
    p.add_argument("--long", action="store_true", help="3,000 cases and the 20,000-change stdio soak")
    p.add_argument("--no-save", action="store_true", help="do not minimise and save failing cases")
    args = p.parse_args(argv)
    cases = args.cases or (3000 if args.long else 300)
    t0 = time.monotonic()
    r = fuzz(cases, args.seed, args.seconds, save=not args.no_save)
    took = time.monotonic() - t0
    print(f"cases {r.cases} (seed {args.seed}, {took:.0f} s), requests checked {r.requests}, crashes {r.crashes}, "
          f"hangs {r.hangs}, unanswered requests {r.unanswered}, fuzzer RSS {r.rss_before:.0f} -> {r.rss_after:.0f} MB")
    for line in r.examples[:20]:
        print("  " + line)
    for path in r.saved:
        print(f"  saved {path}")
    failed = r.crashes + r.hangs + r.unanswered
    if args.long:
        before, after, soak_s = soak()
        print(f"stdio soak: 20,000 didChange: server RSS {before:.0f} -> {after:.0f} MB ({soak_s:.0f} s)")
        print("\n| cases | crashes | hangs | unanswered requests | server RSS before → after 20,000 didChange |")
        print("| --- | --- | --- | --- | --- |")
        print(f"| {r.cases} (seed {args.seed}) | {r.crashes} | {r.hangs} | {r.unanswered} of {r.requests} | "
              f"{before:.0f} → {after:.0f} MB |")
        failed += after - before > 50
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
