"""Repository context for a completion request: from the other open documents, the recently
edited ones and the workspace index (server/repo_index.py), selected by model/tasks/retrieval.py
and rendered by the engine (model/tasks/repo_context.py) before the FIM prompt.

`Contexts.capture` runs on the event loop and only takes snapshots (immutable); `select` runs on
the inference thread, before the model call, so the event loop never waits for it. Only
documents the server may send (`servable`: languages, privacy patterns) are used, and only
files of the workspace the editor named.

The same inputs give the same context, and a context whose files the new one only narrows is
kept: the prompt's head then stays the same and its KV cache with it. The context changes when
other files change or the cursor moves to other lines, not while typing on one.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from model.tasks import retrieval
from server.documents import Snapshot, uri_to_path
from server.privacy import is_private
from server.repo_index import RepoIndex

if TYPE_CHECKING:
    from server.server import WingmanServer

MAX_OTHERS = 16  # documents searched per request: the open and recent ones, the recent first
MAX_DOC_CHARS = 200_000  # a bigger document is not searched (its windows would cost too much)
RECENT = 8  # recently edited documents kept, even once closed
CONTEXT_CHARS_PER_TOKEN = 3.0  # the selection's character cap, from the context's token share


@dataclass(frozen=True)
class Captured:
    snap: Snapshot
    others: tuple[Snapshot, ...]
    root: str  # the workspace folder holding the file, or "" when none was named


@dataclass(frozen=True)
class Selected:
    repo_name: str
    repo_path: str
    files: tuple[tuple[str, str], ...]
    ms: float


class Contexts:
    def __init__(self, server: "WingmanServer") -> None:
        self.server = server
        self.recent: OrderedDict[str, Snapshot] = OrderedDict()  # uri -> its latest text
        self.indexes: dict[str, RepoIndex] = {}
        self._last: dict[str, tuple[tuple, Selected]] = {}  # uri -> (inputs, what was selected)
        self._lock = threading.Lock()
        server.documents.changed.append(self._edited)
        server.documents.opened.append(self._opened)
        server.documents.closed.append(self._closed)

    # ---- on the event loop --------------------------------------------------------------
    def _edited(self, uri: str, _moved) -> None:
        snap = self.server.documents.get(uri)
        if snap is not None:
            self.recent[uri] = snap
            self.recent.move_to_end(uri, last=False)
            while len(self.recent) > RECENT:
                self.recent.popitem()

    def _opened(self, snap: Snapshot) -> None:
        for index in list(self.indexes.values()):
            index.touch(snap.path)

    def _closed(self, uri: str) -> None:
        with self._lock:
            self._last.pop(uri, None)
        path = uri_to_path(uri)
        for index in list(self.indexes.values()):
            index.touch(path)  # saved or deleted before closing: the entry follows the disk

    def capture(self, snap: Snapshot) -> Captured:
        ls = self.server
        open_docs = [ls.documents.get(u) for u in list(ls.documents._docs)]  # noqa: SLF001 - a read of the dict
        recent_uris = list(self.recent)
        ordered: dict[str, Snapshot] = {}
        for uri in recent_uris:
            s = ls.documents.get(uri) or self.recent.get(uri)
            if s is not None:
                ordered[uri] = s
        for s in open_docs:
            if s is not None:
                ordered.setdefault(s.uri, s)
        others = tuple(s for s in ordered.values() if s.uri != snap.uri and len(s.text) <= MAX_DOC_CHARS
                       and s.language_id in ls.settings.languages and not is_private(s.path, ls.settings.ignore))
        return Captured(snap, others[:MAX_OTHERS], self._root(snap.path))

    def _root(self, path: str) -> str:
        try:
            ws = self.server.workspace  # set by pygls at initialize
        except Exception:  # noqa: BLE001 - not initialized (unit tests): no workspace folder
            return ""
        folders = [uri_to_path(f.uri) for f in (ws.folders or {}).values()]
        if ws.root_path:
            folders.append(ws.root_path)
        p = os.path.abspath(path)
        for folder in sorted(folders, key=len, reverse=True):
            folder = os.path.abspath(folder)
            if p == folder or p.startswith(folder.rstrip(os.sep) + os.sep):
                return folder
        return ""

    def index(self, root: str) -> RepoIndex | None:
        if not root or not self.server.settings.completion.context_index:
            return None
        if root not in self.indexes:
            ignore = list(self.server.settings.ignore)
            self.indexes[root] = RepoIndex(root, lambda p: is_private(p, ignore)).start()
        return self.indexes[root]

    # ---- on the inference thread ----------------------------------------------------------
    def select(self, cap: Captured, offset: int, budget_tokens: int) -> Selected:
        t0 = time.perf_counter()
        snap = cap.snap
        prefix, suffix = snap.text[:offset], snap.text[offset:]
        index = self.index(cap.root)
        base = cap.root or os.path.dirname(snap.path)
        repo_path = _rel(snap.path, base)
        others = [(_rel(s.path, base), s.text) for s in cap.others]
        typing = retrieval.identifiers(prefix[-64:].rsplit("\n", 1)[-1][-32:])[-1:]
        key = (retrieval.query_text(prefix, suffix), tuple(typing), tuple((s.uri, s.serial) for s in cap.others),
               budget_tokens, index is not None and index.done.is_set())
        with self._lock:
            last = self._last.get(snap.uri)
        if last is not None and last[0] == key:
            return last[1]
        open_text = dict(others)

        def resolve(module: str, _name: str | None) -> tuple[str, str] | None:
            if index is None:
                return None
            rel = index.resolve(module, repo_path)
            if rel is None or rel == repo_path:
                return None
            if rel in open_text:  # the editor's text, not the disk's
                return rel, open_text[rel]
            text = index.read(rel)
            return (rel, text) if text is not None else None

        files = retrieval.select(prefix, suffix, others, resolve, max_chars=int(budget_tokens * CONTEXT_CHARS_PER_TOKEN))
        name = os.path.basename(base.rstrip(os.sep)) or "workspace"
        files = retrieval.settle(last[1].files if last is not None else None, files)
        chosen = Selected(name, repo_path, files, (time.perf_counter() - t0) * 1000)
        with self._lock:
            self._last[snap.uri] = (key, chosen)
        return chosen


def _rel(path: str, base: str) -> str:
    try:
        rel = os.path.relpath(path, base) if base else os.path.basename(path)
    except ValueError:  # another drive on Windows
        return os.path.basename(path)
    return os.path.basename(path) if rel.startswith("..") else rel.replace(os.sep, "/")
