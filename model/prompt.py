"""Fill-in-the-middle prompts within a token budget, built to stay stable across keystrokes.

- The suffix window is a fixed share of the budget, cut at line ends: it changes only when the
  text after the cursor does.
- The prefix window starts on a line whose number is a multiple of `step_lines`; it moves only
  when the window overflows, and then drops a whole block. Typing therefore appends to the
  previous prompt, and the KV cache keeps everything before the cursor.
- Pieces are tokenized separately around the marker tokens, so a BPE merge never crosses them.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.fim import FimTemplate


@dataclass(frozen=True)
class PromptConfig:
    suffix_share: float = 0.25
    step_lines: int = 32


@dataclass
class Prompt:
    ids: list[int]
    prefix_start_line: int  # first line of the file in the prefix window
    suffix_lines: int  # lines of the suffix kept
    truncated: bool  # the cursor line alone overflowed the window and was cut by tokens


class PromptBuilder:
    def __init__(self, tokenizer, template: FimTemplate, config: PromptConfig = PromptConfig()) -> None:
        self.tok = tokenizer
        self.template = template
        self.config = config
        self.markers = {t: tokenizer.convert_tokens_to_ids(t) for t in template.special_tokens}

    def encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    def _suffix_window(self, suffix: str, limit: int) -> tuple[list[int], int]:
        if limit <= 0 or not suffix:
            return [], 0
        lines = suffix[: limit * 8].split("\n")  # no token is longer than 8 characters in practice
        keep = len(lines)
        ids = self.encode("\n".join(lines[:keep]))
        while len(ids) > limit and keep > 1:
            keep = max(1, min(keep - 1, int(keep * limit / len(ids))))
            ids = self.encode("\n".join(lines[:keep]))
        return (ids, keep) if len(ids) <= limit else (ids[:limit], 1)

    def _prefix_window(self, prefix: str, limit: int) -> tuple[list[int], int, bool]:
        lines = prefix.split("\n")
        step = max(1, self.config.step_lines)
        starts = [0] + [s for s in range(step, len(lines), step)]
        # Skip starts that are surely too long (4 characters per token is generous for code).
        chars = [len(ln) + 1 for ln in lines]
        tail = sum(chars)
        i = 0
        for i, s in enumerate(starts):
            if tail <= limit * 4:
                break
            tail -= sum(chars[s : starts[i + 1]]) if i + 1 < len(starts) else 0
        for s in starts[i:]:
            ids = self.encode("\n".join(lines[s:]))
            if len(ids) <= limit:
                return ids, s, False
        # One block of lines is longer than the window: keep the tokens nearest the cursor.
        s = starts[-1]
        ids = self.encode("\n".join(lines[s:]))
        return ids[-limit:] if limit > 0 else [], s, True

    def build(self, prefix: str, suffix: str, budget: int) -> Prompt:
        t = self.template
        if t.order == "prefix_only":
            ids, start, cut = self._prefix_window(prefix, budget)
            return Prompt(ids, start, 0, cut)
        specials = sum(1 for piece in t.pieces("", "") if piece)  # the markers this layout sends
        suffix_ids, kept = self._suffix_window(suffix, int(budget * self.config.suffix_share))
        prefix_ids, start, cut = self._prefix_window(prefix, budget - specials - len(suffix_ids))
        m = self.markers
        if t.order == "spm":
            ids = [m[t.suffix], *suffix_ids, m[t.prefix], *prefix_ids] + ([] if t.open_middle else [m[t.middle]])
        else:
            ids = [m[t.prefix], *prefix_ids, m[t.suffix], *suffix_ids, m[t.middle]]
        return Prompt(ids, start, kept, cut)
