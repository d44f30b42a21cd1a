"""Local counts of suggestions shown and accepted, for evaluation and retraining.

Written to $WINGMAN_HOME/telemetry.json and nowhere else: this module has no network code and
never will. `telemetry.enabled: false` stops the counting (nothing is written).

The keys come from a fixed set (EVENTS, the known languageIds, MODES): whatever a client puts in
`wingman.accept`'s arguments, the file never gains a key of its making; an unknown language is
counted as `other`, an unknown mode not at all.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from pathlib import Path

from model.paths import wingman_home
from server.config import DEFAULT_LANGUAGES

log = logging.getLogger(__name__)
EVENTS = frozenset({"shown", "accepted"})
LANGUAGES = frozenset(DEFAULT_LANGUAGES)
MODES = frozenset({"single", "multi", "cached"})


class Telemetry:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or wingman_home() / "telemetry.json"
        self.enabled = True
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, event: str, language: str = "", mode: str = "") -> None:
        if not self.enabled or event not in EVENTS:
            return
        if language and language not in LANGUAGES:
            language = "other"
        if mode not in MODES:
            mode = ""
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
            # Keys an older server let a client choose are dropped as the file is rewritten.
            total = Counter({k: v for k, v in old.items() if isinstance(v, int) and valid_key(k)}
                            if isinstance(old, dict) else {})
            total.update(self.counts)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(dict(sorted(total.items())), indent=1))
                os.replace(tmp, self.path)
                self.counts.clear()
            except OSError as exc:
                log.warning("could not write %s: %s", self.path, exc)


def valid_key(key: str) -> bool:
    event, _, rest = key.partition(".")
    if event not in EVENTS:
        return False
    if not rest:
        return True
    if rest.startswith("mode."):
        return rest[5:] in MODES
    return rest in LANGUAGES or rest == "other"
