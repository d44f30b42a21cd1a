"""The engine's options: one defaulted dataclass. The `wingman` flags, the server's `model.*`
settings and `wingman eval`'s flags are all derived from it (model/configs.py reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from model.configs import option

DEFAULT_MODEL = "default"  # SmolLM2-135M-Instruct from `wingman model pull` + the shipped Wingman adapter
BASE_MODEL = "base"  # the same base checkpoint without the adapter
BACKENDS = ("local", "remote", "fake")
DTYPES = ("auto", "float32", "bfloat16", "float16")
QUANTIZE = ("auto", "none", "int8", "int4")


@dataclass
class EngineConfig:
    backend: str = option("local", choices=BACKENDS, help="local (this machine), remote (an OpenAI-compatible server) or fake (tests)")
    model: str = option(DEFAULT_MODEL, wire="path",
                        help="'default' (the base + Wingman's shipped adapter), 'base', a Hugging Face checkpoint directory or a .gguf file")
    adapter: str | None = option(None, help="a peft adapter directory, merged at load time")
    device: str = option("cpu", help="cpu, cuda, cuda:1, mps or auto")
    dtype: str = option("auto", choices=DTYPES, help="compute precision")
    quantize: str = option("auto", choices=QUANTIZE, help="weight-only quantization of the decode path")
    fim_template: str = option("auto", help="the FIM template (model/fim.py); auto detects it from the vocabulary")
    kernels: str = option("auto", help="the kernel plan (model/kernels.py): auto measures this machine; or "
                                       "DECODE/PREFILL/ACTIVATIONS, e.g. int4/bf16/bfloat16")
    # Off by default: within 700 MB the plan prefills from the int4 weights instead of the bf16
    # copy, which changed 12 of 18 greedy completions (bench/memory-2026-12-02b/); a held-out eval
    # must show no quality loss before the default changes (the "Fast on every CPU" issue).
    memory_budget_mb: int = option(0, lo=0, hi=1 << 30,
                                   help="the server's peak resident size the kernel plan keeps within, in MB "
                                        "(model/budget.py projects it): the fastest prefill arrangement that "
                                        "fits, e.g. 700; 0 = no budget")
    threads: int = option(0, lo=0, hi=1024, help="torch intra-op threads at most; 0 = all cores")
    adaptive_threads: bool = option(True, help="use fewer threads while other processes want the cores "
                                                "(model/threads.py)")
    max_context: int = option(4096, lo=256, hi=1 << 20, help="KV cache length (prompt + completion)")
    remote_url: str = option("", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    remote_model: str = option("", help="the model name on the remote server")
    remote_api_key: str = option("", help="the API key for the remote server")
    fake: dict | None = option(None, help="a FakeEngine spec (tests only)")

    def __post_init__(self) -> None:
        for name, allowed in (("backend", BACKENDS), ("quantize", QUANTIZE), ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}")
        if self.backend == "remote" and not self.remote_url:
            raise ValueError("backend 'remote' needs remote_url (e.g. http://127.0.0.1:8000/v1)")
        if self.kernels != "auto":
            from model.kernels import parse_plan

            parse_plan(self.kernels)  # raises ValueError naming what is wrong
        if self.memory_budget_mb < 0:
            raise ValueError("memory_budget_mb must be 0 (no budget) or a size in MB")
        if self.max_context < 256:
            raise ValueError("max_context must be at least 256")
