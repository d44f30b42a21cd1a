"""The kernel plan: measured once per machine and model, cached, rebuilt when the cache is bad."""

from __future__ import annotations

import json

import torch

import pytest

from model import kernels


@pytest.fixture(autouse=True)
def calm(monkeypatch):
    """These tests decide what the load is: the machine running them may be busy or not."""
    monkeypatch.setattr(kernels, "_load", lambda: 0.0)


def test_plan_is_measured_then_cached(wingman_home):
    w = torch.randn(256, 64) * 0.02
    first = kernels.choose(w, "auto", "auto", 4, 2, 16)
    assert first.source == "measured" and first.decode in ("int4", "int8", "bf16", "fp32")
    assert first.act in ("float32", "bfloat16")
    assert set(first.timings_us["decode"]) >= {"fp32", "int8"}  # what it chose among
    again = kernels.choose(w, "auto", "auto", 4, 2, 16)
    assert again.source == "cached" and (again.decode, again.prefill, again.act) == (first.decode, first.prefill, first.act)


def test_settings_bound_the_choice(wingman_home):
    w = torch.randn(256, 64) * 0.02
    assert kernels.choose(w, "int8", "auto", 4, 2, 16).decode == "int8"
    p = kernels.choose(w, "none", "float32", 4, 2, 16)
    assert (p.decode, p.act) == ("fp32", "float32")


def test_a_corrupt_or_stale_cache_is_measured_again(wingman_home):
    w = torch.randn(256, 64) * 0.02
    kernels.choose(w, "auto", "auto", 4, 2, 16)
    files = list((wingman_home / "kernels").glob("*.json"))
    assert len(files) == 1
    files[0].write_text("{not json")
    assert kernels.choose(w, "auto", "auto", 4, 2, 16).source == "measured"
    data = json.loads(files[0].read_text())
    data["key"] = data["key"].replace('"v": 2', '"v": 1')  # a plan from an older rule
    files[0].write_text(json.dumps(data))
    assert kernels.choose(w, "auto", "auto", 4, 2, 16).source == "measured"


def test_cpu_features_name_the_isa():
    text = kernels.cpu_features()
    assert "torch dispatch" in text


def test_a_busy_machine_gets_the_rule_and_nothing_is_cached(wingman_home, monkeypatch):
    monkeypatch.setattr(kernels, "_load", lambda: 64.0)
    w = torch.randn(256, 64) * 0.02
    plan = kernels.choose(w, "auto", "auto", 4, 2, 16)
    assert (plan.source, plan.decode, plan.prefill, plan.act) == ("rule", "int4", "int4", "float32")
    assert not (wingman_home / "kernels").exists()
    monkeypatch.setattr(kernels, "_load", lambda: 0.0)
    assert kernels.choose(w, "auto", "auto", 4, 2, 16).source == "measured"  # measured once it is calm


def test_threads_leave_the_cores_others_are_using():
    from model.threads import ThreadPolicy, cores

    policy = ThreadPolicy(configured=0)
    assert policy.choose(others=0) == cores()
    assert policy.choose(others=cores()) == 1  # everything taken: one thread, never zero
    assert ThreadPolicy(configured=1).choose(others=0) == 1  # the setting is a ceiling
    assert ThreadPolicy(configured=0, adaptive=False).choose(others=cores()) == cores()
