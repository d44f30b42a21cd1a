"""Paired bootstrap intervals: the shipping rule's yardstick."""

from training.evaluate import paired


def _line(ids, hits):
    return {"line": [{"id": i, "exact_match": h, "edit_similarity": 1.0 if h else 0.5} for i, h in zip(ids, hits)]}


def test_a_clear_win_has_an_interval_above_zero():
    ids = list(range(100))
    ref = _line(ids, [i % 5 == 0 for i in ids])  # 20%
    new = _line(ids, [i % 5 == 0 or i % 2 == 0 for i in ids])  # 60%, every reference hit kept
    row = next(r for r in paired.compare(ref, new) if r["metric"] == "Line completion EM")
    assert row["n"] == 100 and abs(row["diff"] - 0.4) < 1e-9
    assert 0 < row["lo"] < 0.4 < row["hi"] and row["verdict"] == "ahead"


def test_noise_is_within_and_only_shared_samples_pair():
    ids = list(range(40))
    ref = _line(ids, [i % 2 == 0 for i in ids])
    new = _line(ids[:30] + [99], [i % 2 == 1 for i in ids[:30]] + [True])  # same rate, other samples
    row = next(r for r in paired.compare(ref, new) if r["metric"] == "Line completion EM")
    assert row["n"] == 30 and row["lo"] < 0 < row["hi"] and row["verdict"] == "within"


def test_bootstrap_is_seeded():
    d = [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]
    assert paired.bootstrap(d, 2000, seed=3) == paired.bootstrap(d, 2000, seed=3)
