"""The engine boundary: one Protocol, three backends (local torch, remote OpenAI-compatible, fake)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from model.types import CancelToken, ChatMessage, Completion, CompletionRequest, EngineInfo, TokenScore


class EngineError(RuntimeError):
    """An error with a message fit to show a user as it is."""


class ModelNotFoundError(EngineError):
    pass


@runtime_checkable
class Engine(Protocol):
    info: EngineInfo

    def complete(self, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
        """Fill in the middle at the cursor. Empty list when nothing worth showing (or cancelled)."""
        ...

    def generate(
        self, messages: Sequence[ChatMessage], cancel: CancelToken | None = None, max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        """Stream the assistant's reply, as text deltas, through the tokenizer's chat template
        (temperature 0: greedy; above it, sampled: a verified translation draws several)."""
        ...

    def score(self, text: str, cancel: CancelToken | None = None) -> list[TokenScore]:
        """Per-token log-probabilities of `text` (first token has none and is omitted)."""
        ...
