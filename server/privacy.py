"""Files whose text must never reach the model: secrets by their look, and configured patterns.

The built-in list applies even when the `ignore` setting is emptied: a key file sent to a model
by accident cannot be unsent, so this is not something to opt out of by a typo.

Patterns are gitignore globs matched by `pathspec` (git's wildmatch rules) on the RE2 backend,
which matches in time linear in the path: our own glob-to-regex translation backtracked
exponentially on `**/**/**/…` (7.7 s for one path with ten of them, on the event loop). Their
number and length are bounded too (`check_patterns`), so a workspace setting cannot make every
request slow. Matching ignores case, and a pattern without a leading `/` or `**` matches at any
depth (`*_pb2.py`, `build/*.py`), as before.
"""

from __future__ import annotations

import functools

import pathspec

BUILTIN = ("**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/id_ed25519*", "**/id_ecdsa*",
           "**/credentials*", "**/secrets*", "**/*.p12", "**/*.pfx", "**/.netrc", "**/.pgpass", "**/.npmrc",
           "**/.pypirc", "**/.git-credentials")
MAX_PATTERNS = 100
MAX_PATTERN_CHARS = 256


def check_patterns(patterns: list[str]) -> tuple[list[str], list[str]]:
    """The patterns that may be used, and a problem (for the user) per one refused."""
    kept: list[str] = []
    problems: list[str] = []
    for p in patterns:
        if len(p) > MAX_PATTERN_CHARS:
            problems.append(f"`ignore` pattern {p[:40]!r}… is over {MAX_PATTERN_CHARS} characters; not used")
        elif len(kept) == MAX_PATTERNS:
            problems.append(f"`ignore` holds more than {MAX_PATTERNS} patterns; the rest are not used")
            break
        else:
            kept.append(p)
    return kept, problems


def _anywhere(pattern: str) -> str:
    neg, body = ("!", pattern[1:]) if pattern.startswith("!") else ("", pattern)
    if not body.startswith(("/", "**")):
        body = "**/" + body
    return _plain(neg + body.lower())


def _plain(text: str) -> str:
    """RE2 takes only text that encodes as UTF-8: a lone surrogate (in a URI, a pattern) as '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


@functools.lru_cache(maxsize=32)
def _spec(patterns: tuple[str, ...]) -> pathspec.PathSpec:
    return pathspec.GitIgnoreSpec.from_lines([_anywhere(p) for p in patterns])


def is_private(path: str, patterns: list[str] | tuple[str, ...] = ()) -> bool:
    if not path:
        return False
    norm = _plain(path.replace("\\", "/").lower())
    if _spec(BUILTIN).match_file(norm):
        return True
    kept, _ = check_patterns(list(patterns))
    return bool(kept) and _spec(tuple(kept)).match_file(norm)
