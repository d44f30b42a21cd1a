"""`WINGMAN_HOME=... PYTHONPATH=. python bench/learn_swap.py ADAPTER_DIR`: the server's engine host
(server/engine_host.py) loads the default model, then swaps to a repository adapter in place;
prints the resident memory after each load, the peak, and the swap's wall time."""
import asyncio, json, sys, time
from pathlib import Path
from types import SimpleNamespace

from server.config import Settings
from server.engine_host import EngineHost
from server.progress import WorkProgress
from server.worker import Worker


def mem(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


class Stub:
    initialized = True
    settings = Settings()
    notes: list = []
    protocol = SimpleNamespace(notify=lambda m, p: Stub.notes.append(dict(p)))
    worker = Worker()

    async def begin_progress(self, *a, **k):
        return WorkProgress(None, None)

    def window_show_message(self, params):
        print("message:", params.message)


async def main(adapter: str) -> None:
    stub = Stub()
    host = EngineHost(stub)
    t = time.perf_counter()
    host.start(stub.settings)
    await host.wait_ready()
    first = {"load_s": round(time.perf_counter() - t, 1), "rss_mib": round(mem("VmRSS")), "peak_mib": round(mem("VmHWM"))}
    t = time.perf_counter()
    host.use_adapter(adapter)
    while not (host.state == "ready" and host.serving_adapter == adapter):
        await host.wait_ready()
    swap = {"swap_s": round(time.perf_counter() - t, 1), "rss_mib": round(mem("VmRSS")), "peak_mib": round(mem("VmHWM"))}
    stub.worker.stop()
    stub.worker.join(10)
    print(json.dumps({"default": first, "after_swap": swap, "status": host.status()}))


asyncio.run(main(sys.argv[1]))
