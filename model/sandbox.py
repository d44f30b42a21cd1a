"""Run untrusted (model-written) code: a subprocess in a temporary directory, with a timeout,
resource limits, a scrubbed environment and, where the machine allows, no network and no root.

What is enforced (see `capabilities()`; the report records it):
- wall-clock timeout: the whole process group is killed (SIGKILL) when it runs past `timeout_s`;
- `resource` limits in the child: address space (RLIMIT_AS, skipped for node, whose V8 reserves
  large virtual ranges: `--max-old-space-size` bounds its heap instead), CPU seconds
  (RLIMIT_CPU), size of any written file (RLIMIT_FSIZE), open files, no core dumps;
- working directory: a fresh temporary directory, removed afterwards; HOME and TMPDIR point into it;
- environment: only PATH, HOME, TMPDIR, LANG and what the caller passes in `env`;
- network: `unshare -n` (a new, empty network namespace) when running as root, or
  `unshare -rn` (user namespace) where that works; otherwise not enforced;
- user: when running as root and the program is executable by `nobody`, the child drops to
  nobody/nogroup (then RLIMIT_NPROC also bounds fork bombs) and can write only its directory.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
MAX_OUTPUT = 200_000  # characters of stdout/stderr kept


@dataclass
class Limits:
    timeout_s: float = 10.0
    memory_mb: int = 1024  # RLIMIT_AS (not for node)
    cpu_s: int = 20  # RLIMIT_CPU
    file_mb: int = 16  # RLIMIT_FSIZE
    open_files: int = 256
    processes: int = 64  # RLIMIT_NPROC, enforced only for a non-root child


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    files: dict[str, str] = field(default_factory=dict)  # files the caller asked to read back

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _probe(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=None)
def network_prefix() -> tuple[str, ...]:
    """The command prefix that cuts the child off the network, or () where none works here."""
    unshare = shutil.which("unshare")
    if not unshare:
        return ()
    if os.geteuid() == 0 and _probe([unshare, "-n", "true"]):
        return (unshare, "-n")
    if _probe([unshare, "-rn", "true"]):
        return (unshare, "-rn")
    return ()


@functools.lru_cache(maxsize=None)
def can_drop_to_nobody(executable: str) -> bool:
    """True when we are root and `executable` runs as nobody (e.g. not inside /root)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return False
    path = shutil.which(executable) or executable

    def demote() -> None:
        os.setgid(NOBODY_GID)
        os.setgroups([])
        os.setuid(NOBODY_UID)

    try:
        r = subprocess.run([path, "--version"], preexec_fn=demote, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, cwd="/")
        return r.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def capabilities(executables: Sequence[str] = ()) -> dict:
    """What this machine enforces, for the report."""
    net = network_prefix()
    return {
        "timeout": True,
        "rlimits": ["RLIMIT_AS (not node)", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"],
        "network": " ".join(Path(net[0]).name.split() + list(net[1:])) if net else "not enforced",
        "temp_dir": True,
        "scrubbed_env": True,
        "drop_to_nobody": {Path(e).name: can_drop_to_nobody(e) for e in executables},
    }


def _limiter(limits: Limits, address_space: bool, demote: bool):
    import resource

    def apply() -> None:
        os.setsid()  # own process group, so a timeout kills children too
        mb = 1024 * 1024
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if demote:  # setpriv switches user after `unshare`, which needs root; the limit is inherited
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))

    return apply


def run(
    argv: Sequence[str],
    files: Mapping[str, str] | None = None,
    *,
    limits: Limits | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    read_back: Sequence[str] = (),
    network: bool = False,
    copy_trees: Mapping[str, str | Path] | None = None,
    cwd: str = "",
) -> RunResult:
    """Run `argv` in a fresh temporary directory holding `files` (relative path -> text) and
    `copy_trees` (relative path -> a directory copied in). Paths in `argv` may be relative to it.
    `read_back` names files (relative) whose text is returned in `RunResult.files`; `cwd` is a
    directory relative to it; `{root}` in `env` values stands for its absolute path."""
    limits = limits or Limits()
    is_node = Path(argv[0]).name.startswith("node")
    with tempfile.TemporaryDirectory(prefix="wingman-sandbox-") as tmp:
        root = Path(tmp)
        for rel, src in (copy_trees or {}).items():
            shutil.copytree(src, root / rel, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for rel, text in (files or {}).items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        demote = can_drop_to_nobody(argv[0])
        if demote:
            for dirpath, dirnames, filenames in os.walk(root):
                os.chown(dirpath, NOBODY_UID, NOBODY_GID)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), NOBODY_UID, NOBODY_GID)
        child_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(root),
            "TMPDIR": str(root),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        child_env.update({k: v.replace("{root}", str(root)) for k, v in (env or {}).items()})
        prefix = () if network else network_prefix()
        if demote:
            prefix = (*prefix, shutil.which("setpriv"), f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}",
                      "--clear-groups", "--no-new-privs", "--")
        cmd = [*prefix, *argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=root / cwd, env=child_env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
            preexec_fn=_limiter(limits, address_space=not is_node, demote=demote),
        )
        timed_out = False
        try:
            out, err = proc.communicate(stdin, timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
        duration = time.perf_counter() - t0
        back = {}
        for rel in read_back:
            p = root / rel
            if p.is_file():
                back[rel] = p.read_text(encoding="utf-8", errors="replace")[:MAX_OUTPUT]
        return RunResult(proc.returncode, out[:MAX_OUTPUT], err[:MAX_OUTPUT], timed_out, duration, back)


def python_executable() -> str:
    """The interpreter that runs evaluated Python (this one: it has pytest)."""
    import sys

    return sys.executable


def node_executable() -> str | None:
    return shutil.which("node")
