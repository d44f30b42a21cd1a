"""Run a generated pytest module against a module's text in the sandbox; report which tests passed.

The module is saved at its dotted path inside the run's directory (with its packages' __init__
files), the tests under tests/, and pytest's JUnit XML report says which passed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from model import sandbox
from model.tasks.pysource import import_root


@dataclass
class SandboxResult:
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    enforced: list[str] = field(default_factory=list)  # how each held guarantee was enforced
    missing: str = ""  # a sentence naming what this machine could not enforce, or ""
    error: str = ""


def run_tests(test_source: str, module_path: str, module_text: str, timeout_s: float,
              python: str | None = None, project: Path | None = None) -> SandboxResult:
    """Run `test_source` (a complete test module) against `module_text` saved as the module, with
    `python` (default: Wingman's); `project` is readable (not writable) at its own path."""
    _, dotted = import_root(module_path)
    parts = dotted.split(".")
    files = {"/".join(parts[:i]) + "/__init__.py": "" for i in range(1, len(parts))}
    files["/".join(parts) + ".py"] = module_text
    # The tests' sys.path line points at the module's folder relative to the real tests/; here the
    # module sits at the root (the run's directory, `{root}` on PYTHONPATH), which comes first.
    files["tests/test_generated.py"] = test_source
    argv = [python or sandbox.python_executable(), "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--junitxml=report.xml", "--rootdir", ".", "tests/test_generated.py"]
    limits = sandbox.Limits(timeout_s=timeout_s, memory_mb=1024, cpu_s=int(timeout_s) + 1, file_mb=64)
    try:
        r = sandbox.run(argv, files, limits=limits, read_back=["report.xml"], env={"PYTHONPATH": "{root}"},
                        project=project)
    except OSError as exc:
        return SandboxResult(error=f"could not start pytest: {exc}")
    result = SandboxResult(enforced=[f"{k}: {r.reasons.get(k) or 'yes'}" for k, v in r.enforced.items() if v],
                           missing=r.missing)
    if r.timed_out:
        result.error = f"timed out after {timeout_s:g}s"
        return result
    if "report.xml" not in r.files:
        result.error = "pytest produced no report: " + (r.stdout + r.stderr)[-300:]
        return result
    try:
        cases = list(ET.fromstring(r.files["report.xml"]).iter("testcase"))
    except ET.ParseError as exc:
        result.error = f"pytest's report did not parse: {exc}"
        return result
    for case in cases:
        name = case.get("name", "").split("[")[0]
        bad = any(child.tag in ("failure", "error", "skipped") for child in case)
        (result.failed if bad else result.passed).append(name)
    result.passed = [n for n in dict.fromkeys(result.passed) if n not in result.failed]
    return result
