"""The confidence gate: whether a candidate is worth showing at all.

A small model is often unsure, and a wrong suggestion costs the user a look and an Escape
(JetBrains' filter in front of its local model: about +50% acceptance). Each candidate gets a
score in 0..1: a logistic regression (JetBrains' "small classifier") over a few of `features` —
the model's token log-probabilities (mean, lowest, first), the candidate's length, where the
cursor is, whether it copies text the file or the context holds, whether it ran to the token
limit, the checks below and their hand-set product. Which few, and their coefficients, are
chosen and fitted on the validation packages' candidates only (training/evaluate/gate_fit.py →
model/gate_model.json), so the score estimates the chance that the candidate is exactly what the
developer wrote. The checks:

- it does not parse where the file around it did (Python, through `ast`), or its brackets close
  more than the line opened, or its indentation is off the block's;
- it repeats the line above, or only closes a bracket (nothing the user could not type);
- it uses a name that is nowhere in scope: not in the file, its context, the builtins, nor bound
  by the candidate itself; or an attribute that an imported standard module lacks
  (`math.gmean`).

Below the threshold (a setting, calibrated with the coefficients: the highest that still shows
half the validation requests) nothing is shown. Inside a comment or a string the bar is higher
unless the user asked.

A backend without log-probabilities reports NO_CONFIDENCE (model/completion.py, 0.5) and no
token log-probabilities: the gate then puts the validation mean in place of each log-probability
feature and scores the hand-set part as if the model were sure, so a candidate is shown unless a
check finds something; in comments and strings, only when invoked. `legacy_score` is the hand-set product
of the checks that the learned score replaced, kept for the side-by-side in the crossfile eval.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from model.completion import NO_CONFIDENCE  # what a backend without log-probabilities reports
from model.stops import CLOSERS, OPENERS

MODEL_FILE = Path(__file__).with_name("gate_model.json")  # written by training/evaluate/gate_fit.py


def _load_model(path: Path = MODEL_FILE) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


MODEL = _load_model()
# The learned gate's threshold, calibrated with its coefficients on funcy and glom (server/README.md).
DEFAULT_THRESHOLD = float(MODEL["threshold"]) if MODEL else 0.45
# Inside comments and strings, unless invoked: the score that only the validation's most
# confident quarter reaches.
COMMENT_THRESHOLD = float(MODEL.get("comment_threshold", 0.6)) if MODEL else 0.6
MAX_LOCAL_CHARS = 20_000  # of the text around the cursor that the parse check looks at
_IDENT = re.compile(r"(?<![.\w])([A-Za-z_]\w*)")
_ATTR = re.compile(r"\b([A-Za-z_]\w*)\.([A-Za-z_]\w*)")
_BOUND = re.compile(r"(?:\bfor\s+([\w, ]+?)\s+in\b|\b(?:def|class)\s+(\w+)|\b(\w+)\s*(?::[^=]*)?=(?!=)|\bas\s+(\w+)|"
                    r"\blambda\s+([\w, *]*):)")
KNOWN = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | {"self", "cls", "__name__", "__file__", "match", "case", "_"}
FACTORS = {  # how much each finding lowers the score
    "repeats_line_above": 0.05, "only_closes": 0.3, "unbalanced": 0.3, "does_not_parse": 0.35,
    "indentation": 0.5, "unknown_name": 0.5, "missing_attribute": 0.05,
}


@dataclass
class Verdict:
    score: float
    show: bool
    reasons: list[str] = field(default_factory=list)


def in_comment_or_string(prefix: str, language: str = "python") -> bool:
    """Is the cursor inside a comment or a string? By the cursor's line (and open triple quotes)."""
    line = prefix.rsplit("\n", 1)[-1]
    if language == "python" and (prefix.count('"""') % 2 or prefix.count("'''") % 2):
        return True
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch == "#" and language in ("python", "shellscript", "ruby", "yaml", "toml"):
            return True
        elif line.startswith("//", i) and language not in ("python",):
            return True
        i += 1
    return quote is not None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _depth(s: str) -> int:
    d = 0
    for ch in s:
        if ch in OPENERS:
            d += 1
        elif ch in CLOSERS:
            d -= 1
    return d


def _spelled(name: str, *texts: str) -> bool:
    """`name` occurs as a whole word in one of the texts (str.find: fast on long files)."""
    for t in texts:
        i = t.find(name)
        while i >= 0:
            end = i + len(name)
            if (i == 0 or not (t[i - 1].isalnum() or t[i - 1] == "_")) and \
                    (end == len(t) or not (t[end].isalnum() or t[end] == "_")):
                return True
            i = t.find(name, i + 1)
    return False


def _bound_by(text: str) -> set[str]:
    out: set[str] = set()
    for groups in _BOUND.findall(text):
        for g in groups:
            out.update(n.strip(" *") for n in g.split(",") if n.strip(" *"))
    return out


def findings(text: str, prefix: str, suffix: str, language: str = "python", context: str = "") -> list[str]:
    """What lowers this candidate's score (keys of FACTORS)."""
    out: list[str] = []
    line_before = prefix.rsplit("\n", 1)[-1]
    line_after = suffix.split("\n", 1)[0]
    first = (line_before + text.split("\n", 1)[0]).strip()
    above = next((ln.strip() for ln in reversed(prefix[-4000:].split("\n")[:-1]) if ln.strip()), "")
    if first and first == above:
        out.append("repeats_line_above")
    if text.strip() and all(ch in CLOSERS + ";,: " for ch in text.strip()):
        out.append("only_closes")
    # Brackets: the completed line may close what it (or the lines before) opened, no more.
    opened = max(0, _depth(prefix[-2000:]))
    if _depth(text) + opened < 0 or (_depth(text + line_after) + opened < 0 <= _depth(line_after) + opened):
        out.append("unbalanced")
    if "\n" in text and language == "python":
        indents = [len(ln) - len(ln.lstrip()) for ln in text.split("\n")[1:] if ln.strip()]
        if any(i % 2 for i in indents) and not any(i % 2 for i in _file_indents(prefix)):
            out.append("indentation")
    if language == "python" and not in_comment_or_string(prefix, language):  # prose there, not code
        head, tail = _local(prefix, suffix)
        if _parses(head + tail) or _parses(head + "pass" + tail):
            if not _parses(head + text + tail):
                out.append("does_not_parse")
        known = KNOWN | _bound_by(text)
        used = {m for m in _IDENT.findall(_code_only(text))}
        # The name being typed is completed by the text: it is known if the whole word is.
        typed = re.search(r"[A-Za-z_]\w*$", prefix[-200:])  # anchored at the end: only the tail
        if typed:
            whole = typed.group() + re.match(r"\w*", text).group()
            used.discard(re.match(r"\w*", text).group())
            if whole not in known:
                used.add(whole)
        # A name is in scope when the file or the context spells it as a whole word: a search
        # per name used (a few), not a scan of every name in a long file.
        if any(not _spelled(n, prefix, suffix, context) for n in used - known):
            out.append("unknown_name")
        for mod, attr in _ATTR.findall(line_before[-80:] + text):
            m = sys.modules.get(mod) if mod in getattr(sys, "stdlib_module_names", ()) else None
            if m is not None and f"import {mod}" in prefix and not hasattr(m, attr):
                out.append("missing_attribute")
                break
    return out


def _local(prefix: str, suffix: str, lines: int = 150) -> tuple[str, str]:
    """The top-level statement around the cursor: from the last line at column 0 before it to
    the next one after it. Parsing that, not the whole file, keeps the check to a millisecond."""
    before = prefix[-MAX_LOCAL_CHARS:].split("\n")  # 150 lines of code fit in this many characters
    start = len(before) - 1
    for i in range(len(before) - 2, max(-1, len(before) - 2 - lines), -1):
        ln = before[i]
        if ln and not ln[0].isspace() and not ln.startswith(("@", ")", "]", "}", "#")):
            start = i
            break
    else:
        start = max(0, len(before) - 1 - lines) if len(before) > lines else 0
    if start and before[start - 1].startswith("@"):
        while start and before[start - 1].startswith("@"):
            start -= 1
    after = suffix[:MAX_LOCAL_CHARS].split("\n")
    end = len(after)
    for j in range(1, min(len(after), lines)):
        ln = after[j]
        if ln and not ln[0].isspace() and not ln.startswith((")", "]", "}", "#", "else", "elif", "except", "finally")):
            end = j
            break
    else:
        end = min(len(after), lines)
    return "\n".join(before[start:]), "\n".join(after[:end])


def _file_indents(prefix: str) -> list[int]:
    return [len(ln) - len(ln.lstrip()) for ln in prefix[-8000:].split("\n")[-200:] if ln.strip()]


def _code_only(text: str) -> str:
    """The candidate without its strings and comments (names there are not references)."""
    text = re.sub(r"(\"\"\"|''')[\s\S]*?(\1|$)", "", text)
    text = re.sub(r"(\"|')(?:\\.|(?!\1).)*(\1|$)", "", text)
    return re.sub(r"#.*", "", text)


def legacy_score(text: str, confidence: float, prefix: str, suffix: str, language: str = "python",
                 context: str = "") -> tuple[float, list[str]]:
    """The hand-set gate: the mean token probability times a factor per finding."""
    reasons = findings(text, prefix, suffix, language, context)
    s = max(0.0, min(1.0, confidence))
    for r in reasons:
        s *= FACTORS[r]
    return s, reasons


LOGPROB_FEATURES = ("mean_lp", "min_lp", "first_lp", "tokens")


def features(text: str, confidence: float, prefix: str, suffix: str, language: str = "python", context: str = "",
             logprobs=(), stop_reason: str = "", reasons: list[str] | None = None) -> dict[str, float]:
    """What the learned gate looks at, all known when the candidate is: no outcome, nothing that
    only an evaluation has (the hole's kind, the target)."""
    reasons = findings(text, prefix, suffix, language, context) if reasons is None else reasons
    lps = [float(x) for x in logprobs]
    f: dict[str, float] = {}
    if lps:
        f.update(mean_lp=sum(lps) / len(lps), min_lp=min(lps), first_lp=lps[0], tokens=math.log1p(len(lps)))
    elif confidence != NO_CONFIDENCE and confidence > 0:  # a mean without the tokens: that is all three
        lp = math.log(confidence)
        f.update(mean_lp=lp, min_lp=lp, first_lp=lp)
    stripped = text.strip()
    line_before = prefix.rsplit("\n", 1)[-1]
    f["chars"] = math.log1p(len(stripped))
    f["typed_on_line"] = float(bool(line_before.strip()))
    f["in_comment"] = float(in_comment_or_string(prefix, language))
    f["copied"] = float(len(stripped) >= 4 and (stripped in prefix[-MAX_LOCAL_CHARS:] or stripped in context))
    names = set(_IDENT.findall(_code_only(text))) - KNOWN
    f["context_name"] = float(bool(context) and any(_spelled(n, context) and not _spelled(n, prefix[-MAX_LOCAL_CHARS:])
                                                    for n in names))
    f["ran_to_limit"] = float(stop_reason == "max_tokens")
    for r in FACTORS:
        f[r] = float(r in reasons)
    # The hand-set score (legacy_score) as one feature: a prior the fit can keep, calibrate into
    # a probability, or correct with the others.
    # Without any confidence (a remote backend) the candidate is scored as if the model were
    # sure: shown unless a check finds something (with the shipped coefficients each check's
    # factor puts a clean candidate under the threshold: tests/model/test_gate.py).
    hand = 1.0 if unknown_confidence(confidence, lps) else max(0.0, min(1.0, confidence))
    for r in reasons:
        hand *= FACTORS[r]
    f["log_legacy"] = math.log(max(hand, 1e-6))
    return f


def unknown_confidence(confidence: float, logprobs=()) -> bool:
    """A backend that reports no log-probabilities (model/completion.py's NO_CONFIDENCE)."""
    return not logprobs and confidence == NO_CONFIDENCE


def learned_score(f: dict[str, float], model: dict | None = None) -> float:
    """The logistic regression's probability; a feature the candidate lacks (no log-probabilities)
    takes its validation mean, i.e. contributes nothing beyond the intercept. A check that the
    validation candidates never triggered has no coefficient: its hand-set factor still applies
    (math.gmean is no less wrong for being rare), unless the hand-set score is itself a feature."""
    model = model or MODEL
    if model is None:
        return 0.0
    z = model["bias"]
    for name, w, mu, sd in zip(model["features"], model["weights"], model["mean"], model["std"]):
        z += w * ((f.get(name, mu) - mu) / sd)
    p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
    if "log_legacy" not in model["features"]:  # (that feature already holds every factor)
        for r, factor in FACTORS.items():
            if f.get(r) and r not in model["features"]:
                p *= factor
    return p


def score(text: str, confidence: float, prefix: str, suffix: str, language: str = "python", context: str = "",
          logprobs=(), stop_reason: str = "") -> tuple[float, list[str]]:
    reasons = findings(text, prefix, suffix, language, context)
    if MODEL is None:  # no coefficients shipped: the hand-set product
        return legacy_score(text, confidence, prefix, suffix, language, context)
    f = features(text, confidence, prefix, suffix, language, context, logprobs, stop_reason, reasons)
    return learned_score(f), reasons


def decide(text: str, confidence: float, prefix: str, suffix: str, threshold: float, language: str = "python",
           context: str = "", invoked: bool = False, comment_threshold: float = COMMENT_THRESHOLD,
           logprobs=(), stop_reason: str = "") -> Verdict:
    s, reasons = score(text, confidence, prefix, suffix, language, context, logprobs, stop_reason)
    bar = threshold
    if not invoked and in_comment_or_string(prefix, language):
        # Prose there: only a confident model's suggestion, and never one of unknown confidence.
        bar = 2.0 if unknown_confidence(confidence, logprobs) else max(threshold, comment_threshold)
        reasons = reasons + ["comment_or_string"]
    return Verdict(s, s >= bar and bool(text.strip()), reasons)
