"""Where Wingman keeps what it pulls and converts: $WINGMAN_HOME, else $XDG_CACHE_HOME/wingman."""

from __future__ import annotations

import os
from pathlib import Path


def wingman_home() -> Path:
    if os.environ.get("WINGMAN_HOME"):
        return Path(os.environ["WINGMAN_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "wingman"


def models_dir() -> Path:
    return wingman_home() / "models"


def downloads_dir() -> Path:
    return wingman_home() / "downloads"
