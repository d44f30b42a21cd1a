"""The VS Code extension in real VS Code (code-server 4.100.3), driven by Playwright through
Debian's Chromium: editors/vscode/test-e2e/run.mjs does the driving, this file checks its result.

Needs `make editors-deps` (Debian packages, code-server, playwright-core) and builds the .vsix
(`make -C editors vsix`). Skipped, with the reason, where those are missing. ~45 s once installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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


def busy_proxy_exe(tmp_path: Path) -> Path:
    """A `wingman` for the extension that runs the real server behind busy_proxy.py (which sends
    wingman/busy, and holds the loading state until the file after `--hold-ready` exists)."""
    exe = tmp_path / "wingman-busy"
    proxy = Path(__file__).with_name("busy_proxy.py")
    exe.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "args = sys.argv[1:]\n"
        "hold = []\n"
        "if '--hold-ready' in args:\n"
        "    i = args.index('--hold-ready'); hold = args[i:i + 2]; del args[i:i + 2]\n"
        f"os.execv(sys.executable, [sys.executable, {str(proxy)!r}, '--busy-after-ms', '400', *hold, '--', {wingman_exe()!r}, *args])\n"
    )
    exe.chmod(0o755)
    return exe


def test_vscode_ghost_text_tab_and_generate_tests(tmp_path):
    why = missing()
    if why:
        pytest.skip(why)
    r = run_e2e(tmp_path, "--busy-proxy", str(busy_proxy_exe(tmp_path)))
    # A wrong server path is reported, not swallowed.
    assert "cannot start the server" in r["wrongPathMessage"] and "no-such-venv" in r["wrongPathMessage"]
    # So is a `wingman` that dies at start (an incomplete venv): with its own last words.
    assert "did not start" in r["crashMessage"] and "No module named 'pygls'" in r["crashMessage"]
    # The Tab clash: typing `if amount` in a method body opened VS Code's word-based suggest
    # widget (its words from the file) together with the ghost text from the server...
    assert "amount" in r["suggestItems"] or "amount_due" in r["suggestItems"], r["suggestItems"]
    assert r["suggestWidgetVisibleWithGhostText"] is True
    assert r["ghostText"] == " > self.balance:"
    # ... and ONE Tab took the ghost text, not the widget's word; the widget is gone.
    assert r["lineAfterOneTab"].strip() == "if amount > self.balance:"
    assert r["suggestWidgetVisibleAfterTab"] is False
    assert "    def withdraw(self, amount):\n        if amount > self.balance:\n            raise" in r["savedSource"]
    # The extension's configurationDefaults are in force for Python.
    assert "python: editor.inlineSuggest.suppressSuggestions = true" in r["editorSettings"]
    # "Wingman: Generate Tests" opened the new test file with the generated tests, saved it, and
    # focused it (beside the source).
    assert r["testTab"] == "test_calc.py"
    assert "def test_add" in r["testFileVisibleText"] and "from calc import add" in r["testFileVisibleText"]
    assert "def test_add" in r["testFileOnDisk"] and r["testFileDirty"] is False
    assert r["focusedTab"].startswith("test_calc.py")
    # "Translate Selection…" offers the other six languages; JavaScript opened calc.js.
    assert r["translateChoices"] == ["JavaScript", "TypeScript", "Java", "C++", "Go", "Rust"]
    assert r["translatedTab"] == "calc.js"
    assert r["translationOnDisk"].strip() and r["translationFocused"] is True
    # "Toggle Inline Completion" turned it off and on (the status-bar item said so).
    assert r["toggled"] is True
    # Loading progress (wingman/status's progress): the step and the percentage.
    assert r["loadingText"].endswith("Wingman: loading model weights 62%"), r["loadingText"]
    # wingman/busy: a spinner with the server's message while the suggestion is slow; then back.
    assert r["busyText"].endswith("Wingman: thinking…") and r["busySpinner"] is True
    assert r["busyRestored"] is True
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
