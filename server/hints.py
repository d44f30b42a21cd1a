"""Which scored tokens become hints. Pure functions, shared by the server and the evaluation
(bench/diagnostics_eval.py), so the numbers measured are the numbers shipped.

A token is hinted when the model finds it very unlikely (log-probability under the threshold)
and prefers something else. Filters cut the false alarms a small model raises most:
- strings, docstrings and comments: prose and data are surprising and harmless;
- first appearances of a name: a new identifier is surprising by nature, while a wrong one
  (the bug we look for) is a name that exists earlier in the file;
- (same_kind) a one-token bug is fixed by a token of the same kind: an operator by an operator,
  a name by a name that exists in the file, a number by a number. "The model would rather start
  a call here" is not a bug report;
- (min_best) optionally, the model must be fairly sure of its alternative.
Tokens are often pieces of a name; a hint covers the whole name and offers a whole name.
"""

from __future__ import annotations

import bisect
import keyword
import re
from collections import Counter
from dataclasses import dataclass

from model.types import TokenScore

_IDENT = re.compile(r"[A-Za-z_]\w*\Z")
_WORD = re.compile(r"\w+")
# Strings and comments, in one left-to-right scan (so a `#` inside a string is not a comment).
_NOT_CODE = re.compile(
    r'"""(?:\\.|[^\\])*?(?:"""|\Z)'
    r"|'''(?:\\.|[^\\])*?(?:'''|\Z)"
    r'|"(?:\\.|[^"\\\n])*(?:"|$)'
    r"|'(?:\\.|[^'\\\n])*(?:'|$)"
    r"|`(?:\\.|[^`\\])*(?:`|\Z)"
    r"|#[^\n]*|//[^\n]*|/\*.*?(?:\*/|\Z)",
    re.S | re.M,
)


@dataclass(frozen=True)
class Hint:
    start: int  # str offsets into the whole document (the token without surrounding spaces)
    end: int
    text: str
    replacement: str
    logprob: float


def not_code_spans(text: str) -> list[tuple[int, int]]:
    """Where the strings and comments are (a lexer's approximation, good for C-like languages,
    Python, shell, Ruby)."""
    return [m.span() for m in _NOT_CODE.finditer(text)]


def _inside(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    i = bisect.bisect_right(spans, (start, float("inf"))) - 1
    return any(a < end and start < b for a, b in spans[max(i, 0): i + 2])


# One-token bugs swap an operator for another of its family; a "fix" that crosses families
# (`+` -> `(`) is the model wanting different code, not a typo.
_FAMILIES = {
    "compare": {"<", "<=", ">", ">=", "==", "!=", "===", "!=="},
    "arith": {"+", "-", "*", "/", "//", "%", "**"},
    "logic": {"and", "or", "&&", "||"},
    "bits": {"&", "|", "^", "<<", ">>"},
    "assign": {"=", "+=", "-=", "*=", "/=", "%=", "//="},
}
_FAMILY = {op: fam for fam, ops in _FAMILIES.items() for op in ops}
# Words that start statements or are part of the grammar: never a "wrong name" nor its fix.
KEYWORDS = set(keyword.kwlist) | {
    "function", "return", "const", "let", "var", "new", "this", "self", "static", "public", "private",
    "void", "int", "fn", "mut", "impl", "func", "package", "import", "export", "extends", "interface",
    "match", "case", "switch", "default", "throw", "throws", "catch", "try", "null", "nil", "true", "false",
}


def kind(token: str) -> str:
    if token in _FAMILY:
        return "op:" + _FAMILY[token]
    if _IDENT.match(token):
        return "keyword" if token in KEYWORDS else "name"
    if token[:1].isdigit():
        return "number"
    return "other"


def find_hints(text: str, scores: list[TokenScore], threshold: float, base: int = 0,
               same_kind: bool = True, min_best: float | None = None,
               spans: list[tuple[int, int]] | None = None) -> list[Hint]:
    """`scores` are offsets into text[base:...] (a scored window); hints are offsets into text."""
    spans = not_code_spans(text) if spans is None else spans
    words: Counter[str] | None = None
    out: list[Hint] = []
    seen: set[tuple[int, int]] = set()
    for s in scores:
        if s.logprob >= threshold:
            continue
        token, best = s.text.strip(), s.best_text.strip()
        if not token or not best or token == best:
            continue
        if min_best is not None and s.best_logprob < min_best:
            continue
        start = base + s.start + len(s.text) - len(s.text.lstrip())
        end = start + len(token)
        if _inside(spans, start, end):
            continue
        k = kind(token)
        if same_kind and (k != kind(best) or k in ("other", "keyword")):
            continue
        replacement = best
        if k == "name":
            while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
                start -= 1
            m = _WORD.match(text, start)
            end = m.end() if m else end
            token = text[start:end]
            if not _seen_before(text, token, start):
                continue
            if same_kind:
                if words is None:
                    words = Counter(w for w in _WORD.findall(text) if not w[0].isdigit())
                candidates = [w for w in words if w.startswith(best) and w != token and w not in KEYWORDS]
                if not candidates:
                    continue  # the model wants a name this file does not have: no fix to offer
                replacement = max(candidates, key=lambda w: (w == best, words[w]))
        if (start, end) in seen:
            continue  # pieces of one name may each be surprising: one hint per place
        seen.add((start, end))
        out.append(Hint(start, end, token, replacement, s.logprob))
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
