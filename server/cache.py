"""A small LRU of suggestions, for type-ahead reuse (as Tabby does).

When the user types the first characters of a suggestion already shown, the rest of it is still
the model's answer: serve it again without a model call. Keyed by document; an entry holds the
text before the cursor when the model was asked, the text after it, and the suggestion.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    prefix: str
    suffix: str
    text: str


class SuggestionCache:
    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], Entry] = OrderedDict()

    def put(self, uri: str, prefix: str, suffix: str, text: str) -> None:
        if not text:
            return
        key = (uri, len(prefix))
        self._entries[key] = Entry(prefix, suffix, text)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def lookup(self, uri: str, prefix: str, suffix: str) -> str | None:
        """The rest of a cached suggestion the user has been typing, if any (never empty)."""
        for (u, n), e in reversed(self._entries.items()):
            if u != uri or n > len(prefix) or e.suffix != suffix:
                continue
            typed = prefix[n:]
            if prefix[:n] == e.prefix and e.text.startswith(typed) and len(typed) < len(e.text):
                self._entries.move_to_end((u, n))
                return e.text[len(typed):]
        return None

    def clear(self) -> None:
        """Settings changed: an answer computed under the old ones is not reused."""
        self._entries.clear()

    def forget(self, uri: str) -> None:
        for key in [k for k in self._entries if k[0] == uri]:
            del self._entries[key]
