"""When to stop decoding and what to keep: single/multi-line rules and overlap with the suffix.

The rule, after llm-ls and Tabby (documented in README.md, "Completion modes"):
- text after the cursor on its line  -> single-line (we complete within the line);
- an empty line right after a block opener (`:` `{` `(` `[` `=>` ...) -> multi-line, stopping when
  a line's indentation falls below the block's level, or at a blank-line gap at top level;
- otherwise -> single-line (finish the current line or write one statement).
"""

from __future__ import annotations

from model.types import Mode

BLOCK_OPENERS = (":", "{", "(", "[", "=>", "->", " do", " then", "\\")
OPENERS, CLOSERS = "([{", ")]}"
MAX_LINES = 24


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def choose_mode(prefix: str, suffix: str) -> Mode:
    line_before = prefix.rsplit("\n", 1)[-1]
    line_after = suffix.split("\n", 1)[0]
    if line_after.strip() or line_before.strip():
        return "single"
    previous = next((ln for ln in reversed(prefix.split("\n")[:-1]) if ln.strip()), "")
    code = previous.split("#", 1)[0].split("//", 1)[0].rstrip()
    return "multi" if code.endswith(BLOCK_OPENERS) else "single"


class StopChecker:
    """Fed the whole generated text after each token; says where to cut once a stop rule fires."""

    def __init__(self, mode: Mode, prefix: str) -> None:
        self.mode = mode
        self.cursor_line = prefix.rsplit("\n", 1)[-1]

    def check(self, text: str) -> tuple[int, str] | None:
        if self.mode == "single":
            nl = text.find("\n")
            return (nl, "newline") if nl >= 0 else None
        lines = text.split("\n")
        complete_lines = lines[:-1]  # the last one may still grow
        block = None
        offset = 0
        for i, line in enumerate(complete_lines):
            full = self.cursor_line + line if i == 0 else line
            if full.strip():
                level = _indent(full)
                if block is None:
                    block = level
                elif level < block:
                    return (max(offset - 1, 0), "dedent")
            if i >= 2 and block == 0 and not line.strip() and not complete_lines[i - 1].strip():
                return (max(offset - 2, 0), "blank_lines")  # two blank lines: the next top-level item
            if i >= MAX_LINES:
                return (max(offset - 1, 0), "max_lines")
            offset += len(line) + 1
        return None


def _unclosed_openers(s: str) -> int:
    stack = 0
    for ch in s:
        if ch in OPENERS:
            stack += 1
        elif ch in CLOSERS and stack:
            stack -= 1
    return stack


def trim_suffix_overlap(text: str, suffix: str, mode: Mode) -> tuple[str, bool]:
    """Drop what the model wrote that the text after the cursor already holds."""
    if mode == "single":
        rest = suffix.split("\n", 1)[0].rstrip()
        for k in range(min(len(rest), len(text)), 0, -1):
            if text.endswith(rest[:k]):
                trimmed = text[: len(text) - k]
                # "foo()" before ")" is a complete call, not an echo of the suffix's ")".
                if _unclosed_openers(trimmed) <= _unclosed_openers(text):
                    return trimmed, True
        return text, False
    first = next((ln.strip() for ln in suffix.split("\n") if ln.strip()), "")
    if first:
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i > 0 and line.strip() == first:
                return "\n".join(lines[:i]).rstrip(), True
    return text, False


def finish_completion(raw: str, prefix: str, suffix: str, mode: Mode) -> tuple[str, str]:
    """Apply stop rules and suffix trimming to a finished generation. Returns (text, stop_reason)."""
    reason = "eos"
    hit = StopChecker(mode, prefix).check(raw + "\n" if mode == "multi" else raw)
    if hit:
        raw, reason = raw[: hit[0]], hit[1]
    text = raw.rstrip() if mode == "multi" else raw.rstrip("\r")
    text, trimmed = trim_suffix_overlap(text, suffix, mode)
    return text, ("suffix" if trimmed else reason)
