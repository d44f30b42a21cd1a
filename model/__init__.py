"""Wingman's inference engine. Knows nothing of LSP: text in, text out."""

from model.types import (
    CancelToken,
    ChatMessage,
    Completion,
    CompletionRequest,
    EngineInfo,
    Timings,
    TokenScore,
)
from model.engine import Engine, EngineError, ModelNotFoundError

__all__ = [
    "CancelToken",
    "ChatMessage",
    "Completion",
    "CompletionRequest",
    "Engine",
    "EngineError",
    "EngineInfo",
    "ModelNotFoundError",
    "Timings",
    "TokenScore",
]
