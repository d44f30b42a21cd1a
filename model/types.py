"""Plain data passed across the engine boundary. No LSP types: offsets are Python str indices."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypedDict

Mode = Literal["auto", "single", "multi"]
# Loading progress: progress(message, fraction in 0..1 or None).
Progress = Callable[[str, "float | None"], None]


class ChatMessage(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


class CancelToken:
    """Set by whoever no longer wants the answer; checked by the decoder between tokens.

    `cancel()` stops everything at the next check. `abandon()` says the answer came too late to
    show: work that keeps its value (the prefill, which lands in the KV cache and makes the next
    request at that place fast) goes on, decoding does not."""

    __slots__ = ("_event", "_abandoned")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._abandoned = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def abandon(self) -> None:
        self._abandoned.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def abandoned(self) -> bool:
        return self._abandoned.is_set()

    @property
    def stopped(self) -> bool:
        """No answer is wanted any more (cancelled or abandoned)."""
        return self._event.is_set() or self._abandoned.is_set()


NEVER_CANCELLED = CancelToken()


@dataclass(frozen=True)
class CompletionRequest:
    prefix: str  # text before the cursor
    suffix: str = ""  # text after the cursor
    language: str = "python"  # LSP languageId
    path: str = ""  # file path, for the prompt header and logs
    mode: Mode = "auto"  # auto: decided from the cursor's line (model/stops.py: choose_mode)
    max_tokens: int = 64
    budget: int = 1024  # prompt tokens
    temperature: float = 0.0  # 0 = greedy
    # How long the answer may take, in ms (0: no limit). An engine that cannot prefill the whole
    # window in time sends a narrower one (model/local.py) and widens it later (`warm`).
    time_budget_ms: float = 0.0
    # Repository context (model/tasks/repo_context.py): (path, code) of other files or parts of
    # them, the most useful first; the repository's name; this file's path within it.
    context: tuple[tuple[str, str], ...] = ()
    repo_name: str = ""
    repo_path: str = ""
    # Candidates wanted (model/completion.py: alternatives); the first is the greedy one.
    n: int = 1


@dataclass
class Timings:
    prompt_tokens: int = 0
    cached_tokens: int = 0  # reused from the previous request's KV cache
    prefill_ms: float = 0.0
    generated_tokens: int = 0
    decode_ms: float = 0.0
    total_ms: float = 0.0

    @property
    def decode_tokens_per_s(self) -> float:
        return 1000.0 * self.generated_tokens / self.decode_ms if self.decode_ms else 0.0


@dataclass
class Completion:
    text: str  # to insert at the cursor
    confidence: float  # exp(mean token log-probability), 0..1
    timings: Timings = field(default_factory=Timings)
    stop_reason: str = ""  # "eos" | "newline" | "dedent" | "max_tokens" | "cancelled" | "suffix"
    mode: Mode = "single"
    narrowed: bool = False  # computed from a narrower window than asked, to answer in time
    logprobs: tuple[float, ...] = ()  # per generated token, for the confidence gate (model/gate.py); () if unknown


@dataclass(frozen=True)
class TokenScore:
    start: int  # str offsets of the token in the scored text
    end: int
    text: str
    logprob: float
    best_text: str  # the model's preferred token at this position
    best_logprob: float


@dataclass(frozen=True)
class EngineInfo:
    name: str  # model name or path
    backend: str  # "local" | "remote" | "fake"
    fim_template: str  # "wingman", "starcoder", "qwen", "deepseek", "codellama" or "none"
    device: str = "cpu"
    quantization: str = "none"
    context_length: int = 2048
