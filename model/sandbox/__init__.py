"""Run untrusted (model-written) code: the one sandbox of the server, training and evaluation.

`run(argv, files, ...)` runs a program in a fresh temporary directory and returns a `RunResult`
whose `enforced` says which guarantees held on this machine (`missing_sentence` words the
missing ones for the user). The guarantees, and how each is enforced (server/README.md lists them
for users):

- environment: only PATH, HOME, TMPDIR, LANG and what the caller passes (no tokens or keys);
- temp_dir: a fresh directory, removed afterwards; HOME and TMPDIR point into it;
- home: the user's home (from `pwd`), /root and /home are covered by empty tmpfs mounts in a mount
  namespace (jail.py); only the interpreter's own prefix and the project are bound back, read-only;
- writes: the program can write only its directory: /tmp, /var/tmp, /dev/shm are fresh tmpfs,
  the project is a read-only bind mount, and the program runs as nobody (or, for a normal user,
  without capabilities) so it cannot undo a mount;
- network: a new network namespace with no interfaces up;
- memory: RLIMIT_DATA (which also bounds Node's `Buffer.alloc`, outside V8's heap) and RLIMIT_AS
  (not for node, whose V8 reserves large ranges) per process, and a memory cgroup for the tree;
- processes: a pids cgroup, or RLIMIT_NPROC when the program runs as nobody;
- cpu, file_size: RLIMIT_CPU, RLIMIT_FSIZE (and open files, no core dumps);
- timeout: past `timeout_s` every process is killed: the pid namespace's init (the kernel then
  kills the whole namespace), the cgroup's members and the process group.

Where namespaces or cgroups are not permitted, the rest still holds and `enforced` says what not.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model.sandbox import cgroup, jail
from model.sandbox.limits import Limits  # noqa: F401  (public API)
from model.sandbox import limits as rlimits
from model.sandbox.interpreter import Interpreter, interpreter  # noqa: F401  (public API)
from model.sandbox.jail import NOBODY_GID, NOBODY_UID  # noqa: F401  (public API)

MAX_OUTPUT = 200_000  # characters of stdout/stderr kept
# util-linux 2.38's `unshare --fork` re-raises its child's fatal signal, which fails for SIGKILL
# (the memory cgroup's OOM kill, our timeout): it then exits 1 with this line.
UNSHARE_SIGKILL = "unshare: sigprocmask unblock failed: Invalid argument\n"
CGROUP_SLACK_MB = 64  # the tree's cgroup allows a little over one process's rlimit (page cache)

# Mechanisms switched off here, for tests that prove each guarantee's test fails without it
# ("jail", "cgroup", "rlimits", "scrub", "timeout"). Never set outside tests.
DISABLED: set[str] = set()

GUARANTEES = {  # name -> how the user's message words it
    "environment": "a scrubbed environment",
    "temp_dir": "a temporary working directory",
    "home": "no access to your home directory",
    "writes": "no writes outside the temporary directory",
    "network": "no network",
    "memory": "a memory limit",
    "processes": "a process limit",
    "cpu": "a CPU-time limit",
    "file_size": "a file-size limit",
    "timeout": "a wall-clock timeout",
}


@dataclass
class RunResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    duration_s: float
    files: dict[str, str] = field(default_factory=dict)  # files the caller asked to read back
    enforced: dict[str, bool] = field(default_factory=dict)  # guarantee -> held on this run
    reasons: dict[str, str] = field(default_factory=dict)  # guarantee -> why not (or how)
    memory_exceeded: bool = False  # the tree's cgroup reached its memory limit

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def missing(self) -> str:
        return missing_sentence(self.enforced, self.reasons)


def missing_sentence(enforced: Mapping[str, bool], reasons: Mapping[str, str] | None = None) -> str:
    """One sentence for the user's message naming what was not enforced, or "" when all was."""
    reasons = reasons or {}
    gone = [k for k, v in enforced.items() if not v]
    if not gone:
        return ""
    parts = [GUARANTEES.get(k, k) + (f" ({reasons[k]})" if reasons.get(k) else "") for k in gone]
    return "The sandbox could not enforce " + ", ".join(parts) + " on this machine."


def _mode() -> tuple[bool, str]:
    if "jail" in DISABLED:
        return False, "disabled"
    return jail.works()


def _cgroup_reason() -> str:
    if "cgroup" in DISABLED:
        return "disabled"
    return "" if cgroup.parents() is not None else "no writable memory and pids cgroup"


def plan(network: bool = False) -> tuple[dict[str, bool], dict[str, str]]:
    """What a run enforces here: (guarantee -> held, guarantee -> how, or why not)."""
    jailed, why = _mode()
    cg_why = _cgroup_reason()
    rl = "rlimits" not in DISABLED and os.name == "posix"
    as_root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    e, r = {}, {}
    e["environment"], r["environment"] = "scrub" not in DISABLED, ""
    e["temp_dir"] = True
    e["home"], r["home"] = jailed, "mount namespace" if jailed else why
    e["writes"], r["writes"] = jailed, ("mount namespace, " + ("as nobody" if as_root else "no capabilities")) if jailed else why
    if network:
        e["network"], r["network"] = False, "the caller allowed the network"
    else:
        e["network"], r["network"] = jailed, "network namespace" if jailed else why
    e["memory"], r["memory"] = rl or not cg_why, ", ".join(
        [*(["RLIMIT_DATA/RLIMIT_AS"] if rl else []), *(["memory cgroup"] if not cg_why else [])]) or cg_why
    nproc = rl and jailed and as_root  # RLIMIT_NPROC binds only a non-root user: nobody here
    e["processes"] = not cg_why or nproc
    r["processes"] = "pids cgroup" if not cg_why else ("RLIMIT_NPROC as nobody" if nproc else cg_why or "no limit")
    e["cpu"], r["cpu"] = rl, "RLIMIT_CPU" if rl else "rlimits unavailable"
    e["file_size"], r["file_size"] = rl, "RLIMIT_FSIZE" if rl else "rlimits unavailable"
    e["timeout"] = "timeout" not in DISABLED
    r["timeout"] = "pid namespace" if jailed else ("cgroup" if not cg_why else "process group")
    return e, r


def capabilities(executables: Sequence[str] = ()) -> dict:
    """What this machine enforces, for the evaluation report (the old keys stay for it)."""
    e, r = plan()
    return {
        "enforced": e,
        "how": r,
        "missing": missing_sentence(e, r),
        "timeout": e["timeout"],
        "rlimits": ["RLIMIT_DATA", "RLIMIT_AS (not node)", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE",
                    "RLIMIT_CORE"] if e["cpu"] else [],
        "network": r["network"] if e["network"] else "not enforced",
        "temp_dir": True,
        "scrubbed_env": e["environment"],
        "drop_to_nobody": {Path(x).name: e["writes"] and os.geteuid() == 0 for x in executables},
    }


def network_prefix() -> tuple[str, ...]:
    """Kept for callers of the old API: non-empty when runs get no network."""
    ok, _ = _mode()
    return tuple(jail.prefix(os.geteuid() == 0)) if ok else ()


def can_drop_to_nobody(executable: str) -> bool:
    """Kept for callers of the old API: True when the program runs as nobody."""
    return os.geteuid() == 0 and _mode()[0]


def _drain(proc: subprocess.Popen) -> tuple[str, str]:
    """The output after a kill. Without a jail or cgroup a detached grandchild may survive and
    hold the pipes open: then stop reading rather than wait for it."""
    try:
        return proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
        proc.wait()
        return "", "(output lost: a detached process kept it open)"


def _kill_tree(proc: subprocess.Popen, group: cgroup.Group | None, jailed: bool) -> None:
    if jailed:  # the namespace's init is unshare's child; when it dies the kernel kills the rest
        try:
            for child in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
                os.kill(int(child), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    if group is not None:
        group.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
    project: Path | None = None,
    read_only: Sequence[Path] = (),
) -> RunResult:
    """Run `argv` in a fresh temporary directory holding `files` (relative path -> text) and
    `copy_trees` (relative path -> a directory copied in). Paths in `argv` may be relative to it.
    `read_back` names files (relative) whose text is returned in `RunResult.files`; `cwd` is a
    directory relative to it; `{root}` in `env` values stands for its absolute path. `project`
    (the user's project) is readable at its own path but not writable, as are `read_only` paths;
    the interpreter's own prefix (and a venv's site-packages) is always readable."""
    limits = limits or Limits()
    argv = [str(a) for a in argv]
    is_node = Path(argv[0]).name.startswith("node")
    enforced, reasons = plan(network)
    jailed = enforced["home"]
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="wingman-sandbox-") as tmp, \
            tempfile.TemporaryDirectory(prefix="wingman-sandbox-stage-") as stage:
        root = Path(tmp).resolve()
        for rel, src in (copy_trees or {}).items():
            shutil.copytree(src, root / rel, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for rel, text in (files or {}).items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        if jailed and as_root:  # the program runs as nobody: its directory must be its own
            for dirpath, _, filenames in os.walk(root):
                os.chown(dirpath, NOBODY_UID, NOBODY_GID)
                for name in filenames:
                    os.chown(os.path.join(dirpath, name), NOBODY_UID, NOBODY_GID)
        child_env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": str(root),
            "TMPDIR": str(root),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONHASHSEED": "0",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        if "scrub" in DISABLED:
            child_env = {**os.environ, **child_env}
        child_env.update({k: v.replace("{root}", str(root)) for k, v in (env or {}).items()})
        group = None
        if not _cgroup_reason():
            try:
                group = cgroup.Group((limits.memory_mb + CGROUP_SLACK_MB) << 20, limits.processes)
            except OSError as exc:
                enforced["processes"] = reasons["processes"].startswith("RLIMIT_NPROC")
                reasons["processes"] = reasons["processes"] if enforced["processes"] else f"cgroup: {exc}"
        join = group.join_paths if group else []
        cmd = list(argv)
        if jailed:
            ro = [*jail.exposures(argv[0]), *([Path(project)] if project else []), *map(Path, read_only)]
            cmd = jail.command(cmd, root, ro, as_root, Path(stage), join)
            if network:  # the caller asked for the network: keep the host's namespace
                cmd.remove("--net")
        elif join:
            cmd = jail.joined(cmd, join)
        nproc = group is None and jailed and as_root
        table = rlimits.table(limits, not is_node, nproc) if "rlimits" not in DISABLED else {}
        front = rlimits.prlimit_prefix(table) if table else []
        preexec = rlimits.preexec(table) if front is None else None
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                [*(front or []), *cmd], cwd=root / cwd, env=child_env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                start_new_session=True,  # its own process group, for the fallback kill
                preexec_fn=preexec,  # noqa: PLW1509  (only where prlimit is missing)
            )
        except OSError:
            if group is not None:
                group.close()
            raise
        timed_out = False
        try:
            timeout = None if "timeout" in DISABLED else limits.timeout_s
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_tree(proc, group, jailed)
                out, err = _drain(proc)
            duration = time.perf_counter() - t0
            if not jailed:  # nothing it started outlives it (a jail's namespace dies with it)
                _kill_tree(proc, group, False)
            memory_hit = group.memory_hit() if group else False
        finally:
            if group is not None:
                group.close()
        returncode = proc.returncode
        if jailed and err.endswith(UNSHARE_SIGKILL):  # see UNSHARE_SIGKILL
            returncode, err = -signal.SIGKILL, err[: -len(UNSHARE_SIGKILL)]
        back = {}
        for rel in read_back:
            p = root / rel
            if p.is_file():
                back[rel] = p.read_text(encoding="utf-8", errors="replace")[:MAX_OUTPUT]
        return RunResult(returncode, out[:MAX_OUTPUT], err[:MAX_OUTPUT], timed_out, duration, back,
                         enforced, reasons, memory_hit)


def python_executable() -> str:
    """The interpreter that runs evaluated Python (this one: it has pytest)."""
    import sys

    return sys.executable


def node_executable() -> str | None:
    return shutil.which("node")
