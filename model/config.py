"""The engine's configuration: one defaulted, validated dataclass."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

DEFAULT_MODEL = "default"  # SmolLM2-135M-Instruct from `wingman model pull` + the shipped Wingman adapter
BASE_MODEL = "base"  # the same base checkpoint without the adapter


@dataclass
class EngineConfig:
    backend: Literal["local", "remote", "fake"] = "local"
    model: str = DEFAULT_MODEL  # "default", "base", a Hugging Face checkpoint directory, or a .gguf file
    adapter: str | None = None  # a peft adapter directory, merged at load time
    device: str = "cpu"  # "cpu", "cuda", "cuda:1", "mps" or "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    quantize: Literal["auto", "none", "int8", "int4"] = "auto"
    fim_template: str = "auto"  # see model/fim.py
    threads: int = 0  # torch intra-op threads; 0 = torch's default
    max_context: int = 4096  # KV cache length (prompt + completion)
    remote_url: str = ""  # OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1
    remote_model: str = ""
    remote_api_key: str = ""
    fake: dict | None = None  # FakeEngine.from_spec, for tests

    def __post_init__(self) -> None:
        if self.backend not in ("local", "remote", "fake"):
            raise ValueError(f"backend must be local, remote or fake, not {self.backend!r}")
        if self.quantize not in ("auto", "none", "int8", "int4"):
            raise ValueError(f"quantize must be auto, none, int8 or int4, not {self.quantize!r}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise ValueError(f"dtype must be auto, float32, bfloat16 or float16, not {self.dtype!r}")
        if self.backend == "remote" and not self.remote_url:
            raise ValueError("backend 'remote' needs remote_url (e.g. http://127.0.0.1:8000/v1)")
        if self.max_context < 256:
            raise ValueError("max_context must be at least 256")

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]
