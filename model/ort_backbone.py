"""A backbone on ONNX Runtime, under our own decode loop (model/decode.py): the same seam as
FastLlama (`max_len`, `new_cache`, `forward`), so KV reuse, prompt-lookup drafts, cancellation
between tokens and every stop rule stay ours. The model is an export by onnxruntime-genai's
builder (`python -m onnxruntime_genai.models.builder -p int8 -e cpu`): MatMulNBits weights and
GroupQueryAttention with rotary inside.

Why: at the same threads, this backbone under our loop decoded the base model at 1.74x our int4
path on AVX-512 and 2.35x on torch's AVX2 path, with the same greedy tokens
(bench/alt-engines-2026-12-02/). It is not wired into loading yet; onnxruntime is imported only
when one is built.

The cache is one buffer per layer for keys and one for values, (1, KV, capacity, D), which the
model reads as its past and writes as its present in place (IO binding to the same memory: GQA
shares the buffer when both are one), so a decode step copies nothing. Reusing a prefix needs no
cropping: the attention mask says how many positions hold, and the next step writes after them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.llama import grown_capacity

GROW_STEP = 256  # tokens: the capacities this backbone was measured with


@dataclass
class OrtCache:
    k: list  # per layer, numpy (1, KV, capacity, D); ORT reads and writes them in place
    v: list
    max_len: int
    capacity: int
    binding: object = None  # the caches bound as past and present, until they grow

    def ensure(self, end: int) -> None:
        if end <= self.capacity:
            return
        self.binding = None
        cap = grown_capacity(self.capacity, end, self.max_len, GROW_STEP)
        for buffers in (self.k, self.v):
            for i, old in enumerate(buffers):
                new = np.zeros(old.shape[:2] + (cap,) + old.shape[3:], dtype=old.dtype)
                new[:, :, : self.capacity] = old
                buffers[i] = new
        self.capacity = cap


class OrtBackbone:
    def __init__(self, model_dir: str | Path, threads: int, max_len: int | None = None) -> None:
        import onnxruntime as ort

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "genai_config.json").read_text())["model"]
        decoder = config["decoder"]
        self.n_layers = decoder["num_hidden_layers"]
        self.n_kv = decoder["num_key_value_heads"]
        self.head_dim = decoder["head_size"]
        self.max_len = max_len or config["context_length"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(model_dir / decoder["filename"]), options,
                                            providers=["CPUExecutionProvider"])
        self._ort = ort

    def new_cache(self) -> OrtCache:
        cap = min(self.max_len, GROW_STEP)
        shape = (1, self.n_kv, cap, self.head_dim)
        return OrtCache([np.zeros(shape, np.float32) for _ in range(self.n_layers)],
                        [np.zeros(shape, np.float32) for _ in range(self.n_layers)], self.max_len, cap)

    def forward(self, ids: torch.Tensor, cache: OrtCache, start: int, last_only: bool = True) -> torch.Tensor:
        """ids (1, T) at positions start..start+T-1 -> logits (1, T or 1, V) in float32."""
        T = ids.shape[1]
        end = start + T
        if end > cache.max_len:
            raise ValueError(f"sequence of {end} tokens exceeds the KV cache ({cache.max_len})")
        cache.ensure(end)
        if cache.binding is None:
            cache.binding = self.session.io_binding()
            for i in range(self.n_layers):
                for name, buf in ((f"past_key_values.{i}.key", cache.k[i]), (f"past_key_values.{i}.value", cache.v[i])):
                    value = self._ort.OrtValue.ortvalue_from_numpy(buf)  # a view: no copy
                    cache.binding.bind_ortvalue_input(name, value)
                    cache.binding.bind_ortvalue_output(name.replace("past_key_values", "present"), value)
        binding = cache.binding
        binding.bind_cpu_input("input_ids", np.ascontiguousarray(ids.numpy(), dtype=np.int64))
        binding.bind_cpu_input("attention_mask", np.ones((1, end), dtype=np.int64))
        binding.bind_output("logits")
        self.session.run_with_iobinding(binding)
        logits = torch.from_numpy(binding.get_outputs()[-1].numpy())  # the logits only, not the caches
        return logits[:, -1:] if last_only else logits
