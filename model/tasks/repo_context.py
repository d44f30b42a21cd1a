"""Repository context in the model's repository format, fitted to its share of the prompt.

SmolLM2 was pretrained on repositories rendered as

    <repo_name>NAME<file_sep><filename>PATH_A\\nCODE_A<file_sep><filename>PATH_B\\nCODE_B ...

and its tokenizer has the three markers as single tokens. A completion prompt with context is
that, then `<file_sep><filename>PATH\\n` for the file under the cursor, then the FIM prompt of
model/tasks/window.py. The server (server/context.py), the remote engine (as text) and training
(training/repo_fim.py) all render through this module, so a model is trained on what it is served.

The context goes first: it changes far less often than the text around the cursor (only when
the chosen snippets do), so typing keeps the KV cache of everything up to the cursor. The
markers are placed by id and the texts between them encoded separately, so a BPE merge never
crosses a marker and one file's tokens do not depend on its neighbours.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

REPO_NAME, FILE_SEP, FILENAME = "<repo_name>", "<file_sep>", "<filename>"
MARKERS = (REPO_NAME, FILE_SEP, FILENAME)
# No token of code is longer than this many characters in practice (as model/tasks/window.py).
MAX_CHARS_PER_UNIT = 8
# Renderings kept: the context changes only when its inputs do, so most keystrokes find theirs
# here and skip the tokenizer (fitting a file encodes it several times: 2-8 ms on 2 busy cores).
MEMO_ENTRIES = 8

ContextFile = tuple[str, str]  # (path, code): a file, or the part of it worth showing


def render_context(repo_name: str, files: Sequence[ContextFile]) -> str:
    """`<repo_name>NAME` then `<file_sep><filename>PATH\\nCODE` per context file."""
    return REPO_NAME + repo_name + "".join(f"{FILE_SEP}{FILENAME}{path}\n{code}" for path, code in files)


def file_header(path: str) -> str:
    """What introduces the file under the cursor, right before its FIM prompt."""
    return f"{FILE_SEP}{FILENAME}{path}\n"


def fit(code: str, limit: int, count) -> str:
    """The longest head of `code`, cut at a line end, whose unit count is within `limit`."""
    if limit <= 0:
        return ""
    code = code[: limit * MAX_CHARS_PER_UNIT]
    if count(code) <= limit:
        return code
    lines = code.splitlines(keepends=True)
    lo, hi = 0, len(lines)
    while lo < hi:  # binary search on the number of lines
        mid = (lo + hi + 1) // 2
        if count("".join(lines[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return "".join(lines[:lo])


@dataclass
class ContextPiece:
    ids: list[int] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)  # the rendered text, marker by marker
    files: list[ContextFile] = field(default_factory=list)  # what was kept, as fitted

    @property
    def text(self) -> str:
        return "".join(self.pieces)


class ContextRenderer:
    """Encodes the context with an encoder of model/tasks/window.py. `markers` maps each marker
    to its id; a marker the vocabulary lacks (None) is encoded as plain text, and a text backend
    (ids of -1) counts each as one unit."""

    def __init__(self, enc, markers: dict[str, int | None]) -> None:
        self.enc = enc
        self.markers = markers
        self._memo: OrderedDict[tuple, ContextPiece] = OrderedDict()

    @classmethod
    def for_tokenizer(cls, enc, tokenizer) -> "ContextRenderer":
        vocab = tokenizer.get_vocab()
        return cls(enc, {m: vocab.get(m) for m in MARKERS})

    def _marker(self, marker: str, out: ContextPiece) -> None:
        mid = self.markers.get(marker)
        out.ids.extend([mid] if mid is not None else self.enc.encode(marker))
        out.pieces.append(marker)

    def _text(self, text: str, out: ContextPiece) -> None:
        if text:
            out.ids.extend(self.enc.encode(text))
            out.pieces.append(text)

    def _cost(self, text: str) -> int:
        return len(self.enc.encode(text)) if text else 0

    def _marker_cost(self, marker: str) -> int:
        return 1 if self.markers.get(marker) is not None else self._cost(marker)

    def render(self, repo_name: str, files: Sequence[ContextFile], path: str, limit: int) -> ContextPiece:
        """The context within `limit` units, ending with the current file's header; empty when
        no file fits (then the prompt is exactly the plain FIM prompt). Files come in priority
        order, the most useful first: each is cut at a line end to the room left, and they are
        rendered in reverse, so the most useful sits nearest the code. The same inputs give the
        same (shared: do not modify it) piece, from the memo."""
        key = (repo_name, tuple(files), path, limit)
        hit = self._memo.get(key)
        if hit is not None:
            self._memo.move_to_end(key)
            return hit
        out = self._render(repo_name, files, path, limit)
        self._memo[key] = out
        while len(self._memo) > MEMO_ENTRIES:
            self._memo.popitem(last=False)
        return out

    def _render(self, repo_name: str, files: Sequence[ContextFile], path: str, limit: int) -> ContextPiece:
        sep = self._marker_cost(FILE_SEP) + self._marker_cost(FILENAME)
        room = limit - self._marker_cost(REPO_NAME) - self._cost(repo_name) - sep - self._cost(path + "\n")
        kept: list[ContextFile] = []
        for p, code in files:
            head = sep + self._cost(p + "\n")
            if room - head < 8:
                break
            part = fit(code, room - head, self._cost)
            if not part.strip():
                continue
            kept.append((p, part))
            room -= head + self._cost(part)
        while kept:
            out = self._emit(repo_name, kept, path)
            if len(out.ids) <= limit:
                return out
            kept.pop()  # BPE merges at the joins counted a unit or two more: drop the least useful
        return ContextPiece()

    def _emit(self, repo_name: str, kept: list[ContextFile], path: str) -> ContextPiece:
        out = ContextPiece()
        self._marker(REPO_NAME, out)
        self._text(repo_name, out)
        for p, code in reversed(kept):
            self._marker(FILE_SEP, out)
            self._marker(FILENAME, out)
            self._text(p + "\n" + code, out)
        self._marker(FILE_SEP, out)
        self._marker(FILENAME, out)
        self._text(path + "\n", out)
        out.files = kept
        return out
