"""The server's projected peak resident size for a kernel plan, to keep within memoryBudgetMb.

Measured for the default model through the typing replay (bench/memory-2026-12-02: the
breakdown at ready and the replay's peak): ~320 MiB is torch, the tokenizer and the server
before any weights, and the replay's KV caches, scoring chunks and allocator slack add ~190 MiB
past ready. The rest is the weights in the plan's forms, which this computes from the model's
shapes. A projection, not a promise: it is how the plan ranks arrangements against the budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.quant import GROUP

BASE_MIB = 320  # import torch 220 + tokenizer and server ~85 + the rest of the ready state
WORKING_MIB = 190  # the replay's peak past ready (caches, scoring, allocator)
# Bytes per weight: int4 carries a bf16 scale and zero per group of GROUP; int8 one bf16 scale per
# row (a few hundred weights), left out.
FORM_BYTES = {"int4": 0.5 + 4 / GROUP, "int8": 1, "bf16": 2, "fp32": 4}
MB = 1_000_000


@dataclass(frozen=True)
class Shapes:
    """What the projection needs of a model: parameter counts and its largest matrix."""
    layer_params: int  # every layer's matrices (the head and embedding apart)
    vocab: int
    hidden: int
    tied: bool
    largest: int  # elements of the largest layer matrix (the fused gate/up): the unpacking's scratch

    @classmethod
    def of(cls, cfg: dict) -> "Shapes":
        hidden = cfg["hidden_size"]
        inter = cfg.get("intermediate_size") or 4 * hidden
        heads = cfg.get("num_attention_heads", 1)
        kv = cfg.get("num_key_value_heads") or heads
        d = cfg.get("head_dim") or hidden // heads
        per = hidden * (heads + 2 * kv) * d + heads * d * hidden + 3 * inter * hidden
        return cls(cfg["num_hidden_layers"] * per, cfg.get("vocab_size", 0), hidden,
                   bool(cfg.get("tie_word_embeddings", False)), 2 * inter * hidden)


def weight_bytes(shapes: Shapes, decode: str, prefill: str) -> int:
    """The plan's resident weights, as model/llama.py builds them: the layers in the decode form,
    a second copy only when the prefill form differs (not for "int4dq": a bf16 and a uint8
    scratch of the largest matrix), the embedding table in bf16 (fp32 for a dense fp32 plan) and
    the head in the layers' forms (a tied head's bf16 form is the table itself)."""
    dense = prefill if prefill not in (decode, "int4dq") else None
    layers = shapes.layer_params * (FORM_BYTES[decode] + (FORM_BYTES[dense] if dense else 0))
    scratch = shapes.largest * 3 if prefill == "int4dq" else 0
    head_params = shapes.vocab * shapes.hidden
    table = FORM_BYTES["fp32" if "fp32" in (decode, prefill) else "bf16"]
    head_prefill = "bf16" if prefill == "int4dq" and shapes.tied else prefill
    head = head_params * FORM_BYTES[decode]
    if head_prefill not in (decode, "int4dq") and not (shapes.tied and FORM_BYTES[head_prefill] == table):
        head += head_params * FORM_BYTES[head_prefill]
    return int(layers + scratch + head_params * table + head)


def projected_mb(shapes: Shapes, decode: str, prefill: str) -> float:
    return ((BASE_MIB + WORKING_MIB) * 2**20 + weight_bytes(shapes, decode, prefill)) / MB
