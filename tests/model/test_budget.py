"""The memory budget: the plan takes the fastest prefill arrangement whose projection fits."""

from __future__ import annotations

import json

import pytest

from model import kernels
from model.budget import Shapes, projected_mb
from model.config import EngineConfig

SMOL = {"hidden_size": 576, "intermediate_size": 1536, "num_attention_heads": 9, "num_key_value_heads": 3,
        "num_hidden_layers": 30, "vocab_size": 49152, "tie_word_embeddings": True}
# Shaped like this machine's measurement: the dense copy fastest per row, unpacking second.
TIMINGS = {"allowed": ["int4", "int8", "bf16", "fp32"],
           "decode": {"int4": 66, "int8": 67, "bf16": 205, "fp32": 199},
           "prefill": {"int4": 3000, "int8": 4000, "bf16": 1400, "fp32": 3400},
           "chunk": {"int4": 12000, "int4dq": 6800}, "attention": {"float32": 60, "bfloat16": 274}}


def test_the_projection_orders_the_arrangements():
    s = Shapes.of(SMOL)
    copy, dq, plain = (projected_mb(s, "int4", p) for p in ("bf16", "int4dq", "int4"))
    assert copy - dq > 200  # the bf16 copy of the layers: 106M weights
    assert 0 < dq - plain < 10  # one matrix of scratch
    assert dq <= 700  # the default model within the default budget


@pytest.mark.parametrize("budget,prefill", [(0, "bf16"), (2000, "bf16"), (700, "int4dq"), (100, "int4")])
def test_the_fastest_arrangement_that_fits(budget, prefill):
    plan = kernels.decide(TIMINGS, None, Shapes.of(SMOL), budget, "measured")
    assert (plan.decode, plan.prefill, plan.act) == ("int4", prefill, "float32")
    assert "budget" in plan.why or budget == 0


def test_unpacking_is_not_taken_when_it_is_no_faster():
    slow = {**TIMINGS, "chunk": {"int4": 12000, "int4dq": 11500}}
    assert kernels.decide(slow, None, Shapes.of(SMOL), 700, "measured").prefill == "int4"


def test_a_cached_measurement_is_decided_again_under_a_new_budget(wingman_home, monkeypatch):
    import torch

    monkeypatch.setattr(kernels, "_load", lambda: 0.0)
    monkeypatch.setattr(kernels, "measure", lambda *a: TIMINGS)
    w = torch.zeros(3072, 576)
    assert kernels.choose(w, shapes=Shapes.of(SMOL), budget_mb=0).prefill == "bf16"
    cached = kernels.choose(w, shapes=Shapes.of(SMOL), budget_mb=700)
    assert (cached.source, cached.prefill) == ("cached", "int4dq")
    stored = json.loads(next((wingman_home / "kernels").glob("*.json")).read_text())
    assert "plan" not in stored and stored["timings"] == TIMINGS  # the format 2: timings, not a choice


def test_the_budget_is_an_engine_option_on_the_wire():
    from model.configs import wire_name
    from dataclasses import fields

    names = {f.name: wire_name(f) for f in fields(EngineConfig)}
    assert names["memory_budget_mb"] == "memoryBudgetMb"
    assert EngineConfig().memory_budget_mb == 0  # opt-in until an eval shows no quality loss
    with pytest.raises(ValueError):
        EngineConfig(memory_budget_mb=-1)
