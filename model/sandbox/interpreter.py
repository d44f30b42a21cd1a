"""Which Python runs the user's code: the project's own, so that its dependencies import.

A configured path first, then a `.venv` or `venv` in the workspace, else Wingman's own
interpreter. The sandbox makes the chosen one's prefix (and a venv's base) readable, so it
imports its own site-packages, read-only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

VENV_NAMES = (".venv", "venv")


@dataclass(frozen=True)
class Interpreter:
    path: str
    source: str  # "configured", "workspace" or "wingman"

    @property
    def sentence(self) -> str:
        if self.source == "configured":
            return f"Ran with the configured interpreter {self.path}."
        if self.source == "workspace":
            return f"Ran with the project's interpreter {self.path}."
        return f"Ran with Wingman's own interpreter {self.path} (no project interpreter was configured or found)."


def _venv_python(venv: Path) -> Path | None:
    for rel in ("bin/python", "bin/python3", "Scripts/python.exe"):
        exe = venv / rel
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def interpreter(workspace: Path | None, configured: str | None) -> Interpreter:
    """The interpreter to run the user's functions with. A configured path that is not an
    executable file is an error (the user asked for it), not a silent fallback."""
    if configured:
        exe = Path(configured).expanduser()
        if not exe.is_absolute() and workspace is not None:
            exe = workspace / exe
        if exe.is_dir():  # a venv folder given instead of its python
            exe = _venv_python(exe) or exe
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise ValueError(f"the configured Python interpreter {configured!r} is not an executable file")
        return Interpreter(str(exe), "configured")
    if workspace is not None:
        for name in VENV_NAMES:
            if (workspace / name / "pyvenv.cfg").is_file() and (exe := _venv_python(workspace / name)):
                return Interpreter(str(exe), "workspace")
    return Interpreter(sys.executable, "wingman")
