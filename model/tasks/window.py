"""The prompt window: which text around the cursor a completion prompt holds, within a budget.

The one implementation, used by the local engine (token ids), the remote engine (text, counted
in characters: the server holds the tokenizer) and training's FIM rendering, so a model is
trained on exactly the prompts it is served.

Built to stay stable across keystrokes (DESIGN.md, "Windows, not trims"):
- the suffix window is a fixed share of the budget, cut at line ends: it changes only when the
  text after the cursor does;
- the prefix window starts on a line whose number (in the whole file) is a multiple of
  `step_lines`; it moves only when the window overflows, and then drops a whole block. Typing
  therefore appends to the previous prompt, and the KV cache keeps everything before the cursor;
- pieces are encoded separately around the marker tokens, so a BPE merge never crosses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from model.fim import FimTemplate
from model.tasks.repo_context import MARKERS, ContextFile, ContextPiece, ContextRenderer

# No token of code is longer than this many characters in practice: text further from the
# cursor than limit * MAX_CHARS_PER_UNIT can never fit, so it is never encoded.
MAX_CHARS_PER_UNIT = 8
# Characters per token, for engines that cannot count tokens (the remote one).
CHARS_PER_TOKEN = 3.5


class Encoder(Protocol):
    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class TokenizerEncoder:
    """A Hugging Face tokenizer, without special tokens (the markers are added by id)."""

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(ids)


class CharEncoder:
    """One unit per character: for a backend whose tokenizer is on another machine."""

    def encode(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(map(chr, ids))


@dataclass(frozen=True)
class WindowConfig:
    suffix_share: float = 0.25
    step_lines: int = 32
    # Repository context's share of the budget, at most (model/tasks/repo_context.py); what it
    # leaves unused goes to the prefix, so a prompt without context is the plain FIM prompt.
    context_share: float = 0.4


@dataclass
class Piece:
    text: str
    ids: list[int]


@dataclass
class Window:
    prefix: Piece
    suffix: Piece
    prefix_start_line: int  # first line of the file in the prefix window
    suffix_lines: int  # lines of the suffix kept
    truncated: bool  # the cursor's block alone overflowed the window and was cut by units


def suffix_window(suffix: str, limit: int, enc: Encoder) -> tuple[Piece, int]:
    if limit <= 0 or not suffix:
        return Piece("", []), 0
    lines = suffix[: limit * MAX_CHARS_PER_UNIT].split("\n")
    keep = len(lines)
    ids = enc.encode("\n".join(lines[:keep]))
    while len(ids) > limit and keep > 1:
        keep = max(1, min(keep - 1, int(keep * limit / len(ids))))
        ids = enc.encode("\n".join(lines[:keep]))
    if len(ids) <= limit:
        return Piece("\n".join(lines[:keep]), ids), keep
    ids = ids[:limit]
    return Piece(enc.decode(ids), ids), 1


def prefix_window(prefix: str, limit: int, enc: Encoder, step_lines: int) -> tuple[Piece, int, bool]:
    """(the window, its first line's number in the file, whether a block was cut by units)."""
    step = max(1, step_lines)
    # Only the tail that could fit is split into lines; line numbers stay those of the file.
    lo = max(0, len(prefix) - max(limit, 1) * MAX_CHARS_PER_UNIT)
    if lo:
        nl = prefix.find("\n", lo)
        if nl < 0:  # the cursor's own line is longer than any window: keep its end
            ids = enc.encode(prefix[lo:])[-limit:] if limit > 0 else []
            return Piece(enc.decode(ids), ids), prefix.count("\n", 0, lo), True
        lo = nl + 1
    first_line = prefix.count("\n", 0, lo)
    lines = prefix[lo:].split("\n")
    # Candidate starts: the file's lines that are multiples of `step`, within the tail.
    first = -(-first_line // step) * step
    starts = ([0] if first_line == 0 else []) + list(range(max(first, step), first_line + len(lines), step))
    starts = [s - first_line for s in starts]
    if not starts:  # no multiple of `step` in the tail: the tail itself is one over-long block
        starts = [0]
    # Skip starts that are surely too long (4 characters per unit is generous for code).
    chars = [len(ln) + 1 for ln in lines]
    tail = sum(chars)
    i = 0
    for i, s in enumerate(starts):
        if tail <= limit * 4:
            break
        tail -= sum(chars[s: starts[i + 1]]) if i + 1 < len(starts) else 0
    for s in starts[i:]:
        text = "\n".join(lines[s:])
        ids = enc.encode(text)
        if len(ids) <= limit:
            return Piece(text, ids), first_line + s, False
    # One block of lines is longer than the window: keep the units nearest the cursor.
    s = starts[-1]
    ids = enc.encode("\n".join(lines[s:]))
    ids = ids[-limit:] if limit > 0 else []
    return Piece(enc.decode(ids), ids), first_line + s, True


@dataclass
class FimPrompt:
    ids: list[int]
    pieces: list[str]  # the prompt's text, marker by marker (what training renders)
    window: Window
    context: ContextPiece | None = None  # the repository context before the FIM prompt, if any

    @property
    def prefix_start_line(self) -> int:
        return self.window.prefix_start_line

    @property
    def truncated(self) -> bool:
        return self.window.truncated


class FimPromptBuilder:
    """A template's FIM prompt around the cursor, within a budget of encoder units.

    `markers` maps the template's marker strings to their ids; without it (text backends)
    each marker counts as one unit and its id is -1."""

    def __init__(self, enc: Encoder, template: FimTemplate, markers: dict[str, int] | None = None,
                 config: WindowConfig = WindowConfig()) -> None:
        self.enc = enc
        self.template = template
        self.config = config
        self.markers = markers if markers is not None else {t: -1 for t in template.special_tokens}
        self.context = ContextRenderer(enc, {m: -1 for m in MARKERS})

    @classmethod
    def for_tokenizer(cls, tokenizer, template: FimTemplate, config: WindowConfig = WindowConfig()) -> "FimPromptBuilder":
        markers = {t: tokenizer.convert_tokens_to_ids(t) for t in template.special_tokens}
        builder = cls(TokenizerEncoder(tokenizer), template, markers, config)
        builder.context = ContextRenderer.for_tokenizer(builder.enc, tokenizer)
        return builder

    def window(self, prefix: str, suffix: str, budget: int) -> Window:
        t = self.template
        if t.order == "prefix_only" or not t.middle:
            piece, start, cut = prefix_window(prefix, budget, self.enc, self.config.step_lines)
            return Window(piece, Piece("", []), start, 0, cut)
        specials = sum(1 for piece in t.pieces("", "") if piece)  # the markers this layout sends
        suffix_piece, kept = suffix_window(suffix, int(budget * self.config.suffix_share), self.enc)
        piece, start, cut = prefix_window(prefix, budget - specials - len(suffix_piece.ids), self.enc,
                                          self.config.step_lines)
        return Window(piece, suffix_piece, start, kept, cut)

    def build(self, prefix: str, suffix: str, budget: int, context: tuple[ContextFile, ...] = (),
              repo_name: str = "", path: str = "") -> FimPrompt:
        """`context`: other files (or parts of them) in priority order; rendered before the FIM
        prompt within `context_share` of the budget, the rest of which the windows share."""
        ctx = None
        if context:
            ctx = self.context.render(repo_name, context, path or "untitled", int(budget * self.config.context_share))
            ctx = ctx if ctx.ids else None
        w = self.window(prefix, suffix, budget - (len(ctx.ids) if ctx else 0))
        ids: list[int] = list(ctx.ids) if ctx else []
        pieces: list[str] = list(ctx.pieces) if ctx else []
        # The template lays out its slots; sentinels tell the windows' slots from its markers.
        for slot in self.template.pieces(_PREFIX, _SUFFIX):
            piece = w.prefix if slot is _PREFIX else w.suffix if slot is _SUFFIX else None
            if piece is not None:
                ids.extend(piece.ids)
                pieces.append(piece.text)
            elif slot:
                ids.append(self.markers[slot])
                pieces.append(slot)
        return FimPrompt(ids, pieces, w, ctx)


_PREFIX, _SUFFIX = "\x00prefix", "\x00suffix"
