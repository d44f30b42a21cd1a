"""What the server hands an engine is text a tokenizer takes.

The server keeps documents exactly as the editor's UTF-16 buffer, lone surrogates included
(documents.py), so positions never drift. A tokenizer refuses such a str (Hugging Face's raises
TypeError, and the completion was silently lost); the engine is given each lone surrogate as
U+FFFD instead. One code point for one, so every offset into the text stays valid.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

_LONE = re.compile("[\ud800-\udfff]")  # in a canonical text (positions.canonical) a surrogate is lone


def clean(text: str) -> str:
    return _LONE.sub("\ufffd", text) if _LONE.search(text) else text


class CleanTextEngine:
    """An engine whose inputs are cleaned; everything else is the wrapped engine's."""

    def __init__(self, engine: Any) -> None:
        self.inner = engine

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def complete(self, request: Any, cancel: Any = None) -> Any:
        if _LONE.search(request.prefix) or _LONE.search(request.suffix):
            request = dataclasses.replace(request, prefix=clean(request.prefix), suffix=clean(request.suffix))
        return self.inner.complete(request, cancel)

    def generate(self, messages: Any, cancel: Any = None, max_tokens: int = 512, temperature: float = 0.0) -> Any:
        messages = [{**m, "content": clean(m["content"])} if isinstance(m.get("content"), str) else m for m in messages]
        if temperature:
            return self.inner.generate(messages, cancel, max_tokens, temperature=temperature)
        return self.inner.generate(messages, cancel, max_tokens)

    def score(self, text: str, cancel: Any = None) -> Any:
        return self.inner.score(clean(text), cancel)
