"""Local counts of suggestions shown and accepted, for evaluation and retraining.

Written to $WINGMAN_HOME/telemetry.json and nowhere else: this module has no network code and
never will. `telemetry.enabled: false` stops the counting (nothing is written).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from pathlib import Path

from model.paths import wingman_home

log = logging.getLogger(__name__)


class Telemetry:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or wingman_home() / "telemetry.json"
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, event: str, language: str = "", mode: str = "") -> None:
        if not self.enabled:
            return
        with self._lock:
            self.counts[event] += 1
            if language:
                self.counts[f"{event}.{language}"] += 1
            if mode:
                self.counts[f"{event}.mode.{mode}"] += 1

    def flush(self) -> None:
        """Add this session's counts to the file (atomically: write a temp file, then rename)."""
        if not self.enabled or not self.counts:
            return
        with self._lock:
            try:
                old = json.loads(self.path.read_text()) if self.path.exists() else {}
            except (OSError, ValueError):
                old = {}
            total = Counter({k: v for k, v in old.items() if isinstance(v, int)})
            total.update(self.counts)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(dict(sorted(total.items())), indent=1))
                os.replace(tmp, self.path)
                self.counts.clear()
            except OSError as exc:
                log.warning("could not write %s: %s", self.path, exc)
