"""Bytes in, until `exit` or the end of input: the loop that replaces pygls' `run_async`.

pygls read stdin with one thread-pool call per header line and trusted the header (see
server/framing.py). Here one daemon thread reads stdin in chunks (at most SLOTS chunks ahead of the
event loop: bounded memory whatever the client sends), the framer turns them into JSON values, and
the protocol answers or dispatches each (server/protocol.py). The loop returns the exit code:
- `exit`: 0 after `shutdown`, 1 without (the LSP spec); requests still running are answered as
  cancelled first;
- the end of input (the client closed stdin, or the socket): the same rule, at once;
- a write to a closed pipe: the client is gone, the same rule.

`run_loop` then cancels what is still running without waiting on the thread pools (a handler
blocked in a thread must not keep the process alive), and the caller stops the inference worker
before the process ends (server.py: `WingmanServer.stop`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from server.framing import Framer

if TYPE_CHECKING:
    from server.protocol import WingmanProtocol

log = logging.getLogger(__name__)
CHUNK = 65536
SLOTS = 16  # chunks read ahead of the event loop at most


class ChunkSource(Protocol):
    async def read(self) -> bytes:  # b"" at the end
        ...


class FdChunks:
    """A file descriptor (stdin) read on a daemon thread: a blocked read never holds up the end
    of the process, as an executor's thread would (the interpreter joins those at exit)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._slots = threading.Semaphore(SLOTS)
        threading.Thread(target=self._pump, name="wingman-stdin", daemon=True).start()

    def _pump(self) -> None:
        while True:
            self._slots.acquire()
            try:
                data = os.read(self.fd, CHUNK)
            except OSError as exc:
                log.warning("reading stdin failed: %s", exc)
                data = b""
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, data)
            except RuntimeError:  # the loop is closed: the process is ending
                return
            if not data:
                return

    async def read(self) -> bytes:
        data = await self._queue.get()
        self._slots.release()
        return data


class StreamChunks:
    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    async def read(self) -> bytes:
        try:
            return await self.reader.read(CHUNK)
        except (ConnectionError, OSError):
            return b""


async def serve(protocol: "WingmanProtocol", source: ChunkSource) -> int:
    """Read and handle messages until `exit` or the end of input; the process's exit code."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[int] = loop.create_future()
    protocol.on_exit = lambda code: stop.done() or stop.set_result(code)
    if protocol.exit_code is not None:
        return protocol.exit_code
    reading = asyncio.ensure_future(_pump(protocol, source, Framer()))
    await asyncio.wait({reading, stop}, return_when=asyncio.FIRST_COMPLETED)
    if stop.done():
        reading.cancel()
        await _drain(protocol)
        return stop.result()
    reading.result()  # the end of input
    code = 0 if protocol._shutdown else 1
    log.info("end of input: exiting with %d", code)
    return code


async def _drain(protocol: "WingmanProtocol", timeout_s: float = 1.0) -> None:
    """Let the requests cancelled by `exit` send their answers (a request in a thread that
    cannot be cancelled gets `timeout_s`)."""
    pending = [f if isinstance(f, asyncio.Future) else asyncio.wrap_future(f)
               for f in list(protocol._request_futures.values()) if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)
    for _ in range(3):  # the done-callbacks that send the answers run on the next turns
        await asyncio.sleep(0)


async def _pump(protocol: "WingmanProtocol", source: ChunkSource, framer: Framer) -> None:
    while True:
        data = await source.read()
        if data:
            framer.feed(data)
        else:
            framer.eof()
        while (event := framer.next()) is not None:
            protocol.receive(event)  # never raises: it answers errors itself
            if protocol.exit_code is not None:
                return
            await asyncio.sleep(0)  # let the handlers just scheduled start, as keystrokes arrive
        if not data:
            return


def run_loop(main: Callable[[], Awaitable[int]], grace_s: float = 2.0) -> int:
    """asyncio.run without its wait for the default executor's threads, and with a bound on
    how long cancelled tasks may take to finish."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main())
    finally:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=grace_s))
        asyncio.set_event_loop(None)
        loop.close()
