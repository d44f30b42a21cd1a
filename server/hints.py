"""Which scored tokens become hints. Pure functions, shared by the server and the evaluation
(bench/diagnostics_eval.py), so the numbers measured are the numbers shipped.

A token is hinted when the model finds it very unlikely (log-probability under the threshold)
and prefers something else. Filters cut the false alarms a small model raises most:
- comments: prose is surprising and harmless;
- first appearances of a name: a new identifier is surprising by nature, while a wrong one
  (the bug we look for) is a name that exists elsewhere in the file;
- tokens whose preferred alternative is only whitespace or the same text;
- (same_kind) a one-token bug is fixed by a token of the same kind: an operator by an operator,
  a name by a name that exists in the file, a number by a number. "The model would rather start
  a call here" is not a bug report;
- (min_best) the model must be fairly sure of its alternative, not merely unsure of everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from model.types import TokenScore

_IDENT = re.compile(r"[A-Za-z_]\w*\Z")
_COMMENT_MARKERS = ("#", "//", "/*", "--")


@dataclass(frozen=True)
class Hint:
    start: int  # str offsets into the whole document (the token without surrounding spaces)
    end: int
    text: str
    replacement: str
    logprob: float


def _in_comment(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    before = text[line_start:offset]
    for marker in _COMMENT_MARKERS:
        i = before.find(marker)
        if i >= 0 and before[:i].count('"') % 2 == 0 and before[:i].count("'") % 2 == 0:
            return True
    return False


def kind(token: str) -> str:
    if _IDENT.match(token):
        return "name"
    if token[:1].isdigit():
        return "number"
    if not any(ch.isalnum() or ch == "_" or ch.isspace() for ch in token):
        return "operator"
    return "other"


def find_hints(text: str, scores: list[TokenScore], threshold: float, base: int = 0,
               same_kind: bool = True, min_best: float | None = None) -> list[Hint]:
    """`scores` are offsets into text[base:...] (a scored window); hints are offsets into text."""
    out: list[Hint] = []
    for s in scores:
        if s.logprob >= threshold:
            continue
        token, best = s.text.strip(), s.best_text.strip()
        if not token or not best or token == best:
            continue
        if min_best is not None and s.best_logprob < min_best:
            continue
        if same_kind:
            k = kind(token)
            if k != kind(best) or k == "other":
                continue
            if k == "name" and not re.search(rf"(?<!\w){re.escape(best)}(?!\w)", text):
                continue
        lead = len(s.text) - len(s.text.lstrip())
        start = base + s.start + lead
        end = start + len(token)
        if _in_comment(text, start):
            continue
        if _IDENT.match(token) and not _seen_before(text, token, start):
            continue
        out.append(Hint(start, end, token, best, s.logprob))
    return out


def _seen_before(text: str, name: str, start: int) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text[:start]) is not None


def pick(hints: list[Hint], text: str, max_per_file: int, per_screen: int = 2, screen_lines: int = 40) -> list[Hint]:
    """The most surprising hints, never more than `per_screen` within any `screen_lines` lines."""
    chosen: list[tuple[int, Hint]] = []
    for h in sorted(hints, key=lambda h: h.logprob):
        if len(chosen) >= max_per_file:
            break
        line = text.count("\n", 0, h.start)
        if sum(1 for ln, _ in chosen if abs(ln - line) < screen_lines) >= per_screen:
            continue
        chosen.append((line, h))
    return sorted((h for _, h in chosen), key=lambda h: h.start)
