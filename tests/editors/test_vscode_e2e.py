"""The VS Code extension in real VS Code (code-server 4.100.3), driven by Playwright through
Debian's Chromium: editors/vscode/test-e2e/run.mjs does the driving, this file checks its result.

Needs `make editors-deps` (Debian packages, code-server, playwright-core) and builds the .vsix
(`make -C editors vsix`). Skipped, with the reason, where those are missing. ~45 s once installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.editors.conftest import EDITORS, clean_env, server_missing, wingman_exe

pytestmark = pytest.mark.editors_e2e

VSCODE = EDITORS / "vscode"
E2E = VSCODE / "test-e2e"
VSIX = VSCODE / "wingman.vsix"
SHOTS = E2E / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")


def missing() -> str | None:
    if not shutil.which("node") or not shutil.which("npm"):
        return "node/npm not installed"
    if not (E2E / "node_modules" / ".bin" / "code-server").exists():
        return "code-server is not installed (make editors-deps)"
    if not (E2E / "node_modules" / "playwright-core").exists():
        return "playwright-core is not installed (make editors-deps)"
    if not CHROMIUM.exists():
        return "chromium is not installed (make editors-deps)"
    return server_missing()


def build_vsix() -> Path:
    proc = subprocess.run(["make", "-C", str(EDITORS), "vsix"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert VSIX.exists()
    return VSIX


def run_e2e(tmp_path: Path, *extra: str, timeout: int = 300) -> dict:
    env = clean_env(tmp_path)
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        ["node", str(E2E / "run.mjs"), "--vsix", str(build_vsix()), "--wingman", wingman_exe(),
         "--screenshots", str(SHOTS), *extra],
        cwd=E2E, env=env, capture_output=True, text=True, timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["ok"], (result.get("error"), proc.stderr[-4000:])
    return result


def test_vscode_ghost_text_tab_and_generate_tests(tmp_path):
    why = missing()
    if why:
        pytest.skip(why)
    r = run_e2e(tmp_path)
    # A wrong server path is reported, not swallowed.
    assert "cannot start the server" in r["wrongPathMessage"] and "no-such-venv" in r["wrongPathMessage"]
    # So is a `wingman` that dies at start (an incomplete venv): with its own last words.
    assert "did not start" in r["crashMessage"] and "No module named 'pygls'" in r["crashMessage"]
    # Ghost text from the server (the fake engine's continuation of the typed "ret").
    assert r["ghostText"] == "urn a + b"
    # Tab accepted it: the saved file has the whole line.
    assert r["savedSource"] == "def add(a, b):\n    return a + b\n"
    # "Wingman: Generate Tests" opened the new test file with the generated tests.
    assert r["testTab"] == "test_calc.py"
    assert "def test_add():" in r["testFileVisibleText"] and "from calc import add" in r["testFileVisibleText"]
    # "Translate Selection…" offers the other six languages; JavaScript opened calc.js.
    assert r["translateChoices"] == ["JavaScript", "TypeScript", "Java", "C++", "Go", "Rust"]
    assert r["translatedTab"] == "calc.js"
    # "Toggle Inline Completion" turned it off and on (the status-bar item said so).
    assert r["toggled"] is True
    for shot in ("fake-0-wrong-path.png", "fake-1-ghost-text.png", "fake-2-final.png"):
        assert (SHOTS / shot).stat().st_size > 10_000


@pytest.mark.real_model
def test_vscode_real_default_model(tmp_path):
    """Once, with the real default model (`wingman model pull`): first pointed at a model that is
    not there (the server's message must show), then fixed in the Settings editor; it loads (the
    status bar shows progress), ghost text appears and Tab takes it."""
    why = missing()
    if why:
        pytest.skip(why)
    from model.pull import default_model_dir

    if not (default_model_dir() / "config.json").exists():
        pytest.skip("the default model is not pulled (wingman model pull)")
    # The real model lives in the user's cache, not in the test's clean home.
    r = run_e2e(tmp_path, "--real", "--model-home", str(default_model_dir().parents[1]), timeout=400)
    assert "wingman model pull" in r["missingModelMessage"] and "no-model" in r["missingModelMessage"]
    assert r["loadingLabel"].startswith("Wingman: loading")
    assert r["ghostText"].strip()
    assert r["savedSource"].startswith("def add(a, b):\n    return")
