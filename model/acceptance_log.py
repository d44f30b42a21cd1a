"""The local acceptance log: suggestions with their context and their fate, opt-in.

Written by the server (server/acceptance.py) when `telemetry.acceptanceLog` is true, read by
`wingman learn` as extra training signal. One JSON object a line in
`$WINGMAN_HOME/acceptance.jsonl`, and nowhere else: this module has no network code. Each line
holds exactly:

- `time`: seconds since the epoch;
- `path`: the file's absolute path on this machine;
- `language`: the editor's languageId;
- `prefix`: at most the last PREFIX_CHARS characters before the cursor;
- `suffix`: at most the first SUFFIX_CHARS characters after it;
- `suggestion`: the suggested text (at most SUGGESTION_CHARS);
- `fate`: `accepted` (the accept command ran), `typed` (the user typed the suggestion out: an
  implicit accept), `dismissed` (the document closed with it showing) or `superseded` (the user
  typed something else, or moved on).

Bounded: past MAX_RECORDS lines the oldest are dropped (the file is rewritten at 2x that). Files
the privacy patterns cover are never logged, since no suggestion is made for them.
`wingman learn --delete-log` (or the editor's "Wingman: Delete the acceptance log") deletes it.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from model.paths import wingman_home

PREFIX_CHARS, SUFFIX_CHARS, SUGGESTION_CHARS = 2000, 500, 2000
MAX_RECORDS = 2000
FATES = ("accepted", "typed", "dismissed", "superseded")


def log_path() -> Path:
    return wingman_home() / "acceptance.jsonl"


class AcceptanceLog:
    def __init__(self, path: Path | None = None, max_records: int = MAX_RECORDS) -> None:
        self.path = path or log_path()
        self.max_records = max_records
        self._lock = threading.Lock()
        self._lines: int | None = None

    def record(self, path: str, language: str, prefix: str, suffix: str, suggestion: str, fate: str) -> None:
        if fate not in FATES or not suggestion:
            return
        row = {"time": round(time.time(), 3), "path": path, "language": language,
               "prefix": prefix[-PREFIX_CHARS:], "suffix": suffix[:SUFFIX_CHARS],
               "suggestion": suggestion[:SUGGESTION_CHARS], "fate": fate}
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            if self._lines is None:
                self._lines = sum(1 for _ in open(self.path, encoding="utf-8", errors="replace"))
            else:
                self._lines += 1
            if self._lines > 2 * self.max_records:
                self._trim()

    def _trim(self) -> None:
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
        kept = lines[-self.max_records:]
        tmp = self.path.with_suffix(f".tmp-{os.getpid()}")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, self.path)
        self._lines = len(kept)


def read(path: Path | None = None) -> Iterator[dict]:
    """The records, oldest first; a damaged line is skipped."""
    p = path or log_path()
    if not p.is_file():
        return
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("fate") in FATES and isinstance(row.get("suggestion"), str):
            yield row


def delete(path: Path | None = None) -> bool:
    p = path or log_path()
    if p.exists():
        p.unlink()
        return True
    return False
