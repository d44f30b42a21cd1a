"""Running generated tests where they can do little harm, and keeping the ones that pass.

Enforced (Linux): a fresh temporary working directory holding only a copy of the module under
test (and its packages' __init__ files) and the tests; a wall-clock timeout (the whole process
group is killed); rlimits on address space (1 GiB), CPU time, file size (64 MiB) and open files;
a minimal environment (no HOME, no proxies, no credentials in env vars); and, when running as root
where `unshare` works, a new network namespace with no interfaces up (no network at all). Not
enforced: filesystem isolation beyond the working directory (the tests can read what the user
can), and no network isolation for non-root users.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from model.tasks.pysource import import_root

MEMORY_BYTES = 1 << 30
FILE_BYTES = 64 << 20


@dataclass
class SandboxResult:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)
    error: str = ""


@lru_cache(maxsize=1)
def _unshare_works() -> bool:
    if os.name != "posix" or os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _limits(cpu_s: int) -> None:
    import resource

    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_BYTES, FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def run_tests(test_source: str, module_path: str, module_text: str, timeout_s: float) -> SandboxResult:
    """Run `test_source` (a complete test module) against `module_text` saved as the module."""
    result = SandboxResult(enforced=["temporary directory", f"timeout {timeout_s:g}s", "1 GiB memory",
                                     "CPU time", "64 MiB files", "minimal environment"])
    folder, dotted = import_root(module_path)
    with tempfile.TemporaryDirectory(prefix="wingman-tests-") as tmp:
        root = Path(tmp)
        parts = dotted.split(".")
        target = root.joinpath(*parts[:-1], parts[-1] + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(parts)):
            (root.joinpath(*parts[:i]) / "__init__.py").touch()
        target.write_text(module_text)
        tests_dir = root / "tests"
        tests_dir.mkdir()
        test_file = tests_dir / "test_generated.py"
        # The tests' sys.path line points at the module's folder relative to the real tests/;
        # here the module sits at the root, so put the root on the path first.
        test_file.write_text(f"import sys\nsys.path.insert(0, {str(root)!r})\n" + test_source)
        report = root / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               f"--junitxml={report}", "--rootdir", str(root), str(test_file)]
        if _unshare_works():
            cmd = ["unshare", "--net", "--"] + cmd
            result.enforced.append("no network (new network namespace)")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONNOUSERSITE": "1", "HOME": str(root), "TMPDIR": str(root), "LANG": "C.UTF-8"}
        try:
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    preexec_fn=lambda: _limits(int(timeout_s) + 1))  # noqa: PLW1509
            try:
                out, _ = proc.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                result.error = f"timed out after {timeout_s:g}s"
                return result
        except OSError as exc:
            result.error = f"could not start pytest: {exc}"
            return result
        if not report.exists():
            result.error = "pytest produced no report: " + out.decode(errors="replace")[-300:]
            return result
        for case in ET.parse(report).getroot().iter("testcase"):
            name = case.get("name", "").split("[")[0]
            bad = any(child.tag in ("failure", "error", "skipped") for child in case)
            (result.failed if bad else result.passed).append(name)
    result.passed = [n for n in dict.fromkeys(result.passed) if n not in result.failed]
    return result
