"""Files whose text must never reach the model: secrets by their look, and configured patterns.

The built-in list applies even when the `ignore` setting is emptied: a key file sent to a model
by accident cannot be unsent, so this is not something to opt out of by a typo.
"""

from __future__ import annotations

import functools
import re

BUILTIN = ("**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/id_ed25519*", "**/id_ecdsa*",
           "**/credentials*", "**/secrets*", "**/*.p12", "**/*.pfx", "**/.netrc", "**/.pgpass", "**/.npmrc",
           "**/.pypirc", "**/.git-credentials")


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: `**/` any folders (or none), `*` and `?` within one path segment."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    # A relative pattern without folders matches the file name anywhere, as .gitignore does.
    if not pattern.startswith(("/", "**")):
        body = "(?:.*/)?" + body
    return re.compile(body + r"\Z", re.IGNORECASE)


def is_private(path: str, patterns: list[str] | tuple[str, ...] = ()) -> bool:
    if not path:
        return False
    norm = path.replace("\\", "/")
    return any(_compile(p).match(norm) for p in (*BUILTIN, *patterns))
