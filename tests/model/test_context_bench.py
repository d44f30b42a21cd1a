"""`wingman bench --context` (model/context_bench.py) on the tiny model: every arm measured in
the same run, the parts of a keystroke reported, the memo's arm re-rendering the context."""

from model import context_bench


def test_the_bench_runs_every_arm_and_splits_the_keystroke(tiny_engine):
    r = context_bench.run(tiny_engine, alternatives=2, rounds=1)
    for arm in ("plain", "context", "context_unmemoized"):
        assert r[arm]["n"] == 20 and r[arm]["p50_ms"] > 0
        parts = r[arm]["parts_p50"]
        assert set(parts) >= {"prefill_ms", "decode_ms", "new_tokens", "generated", "gate_ms", "build_ms"}
    # Typing within a line keeps the context, so each keystroke prefills only what was typed.
    c, p = r["context"]["parts_p50"], r["plain"]["parts_p50"]
    assert c["new_tokens"] < c["prompt_tokens"] / 4
    assert c["prompt_tokens"] > p["prompt_tokens"]
    assert "added_p50_ms_unmemoized" in r and r["context_change"]["changed"]
