"""Fitting the confidence gate (training/evaluate/gate_fit.py): on validation rows only, and a
fitted model that ranks by what predicts the outcome."""

import json
import random

import pytest

from model import gate
from training.evaluate import gate_fit


def _rows(n=200, seed=0, repo="funcy==2.1", split="validation"):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lp = rng.uniform(-3, 0)
        noise = rng.uniform(-3, 0)
        good = rng.random() < 1 / (1 + pow(2.718, -(3 * lp + 3)))  # likelier the higher mean_lp
        feats = {"mean_lp": lp, "min_lp": noise, "chars": rng.uniform(1, 4), "unknown_name": float(i % 7 == 0)}
        rows.append({"id": f"{repo}:{i}", "repo": repo, "path": f"{split}{i % 13}.py", "split": split,
                     "context": {"prediction": "x", "exact_match": good, "edit_similarity": 1.0 if good else 0.2,
                                 "features": feats}})
    return rows


def _write(tmp_path, rows):
    p = tmp_path / "crossfile.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_the_fit_learns_the_informative_feature_and_a_threshold_showing_half(tmp_path):
    rows = _rows() + _rows(100, 2, "glom==24.11.0", "fit") + _rows(60, 1, "pydash==8.1.0", "test")
    # A test row that the fit would love if it saw it: the outcome equals a feature.
    for r in rows[-60:]:
        r["context"]["features"]["min_lp"] = 5.0 if r["context"]["exact_match"] else -5.0
    out = tmp_path / "model.json"
    assert gate_fit.main([str(_write(tmp_path, rows)), "--out", str(out)]) == 0
    model = json.loads(out.read_text())
    w = dict(zip(model["features"], model["weights"]))
    assert w["mean_lp"] > 0 and abs(w["mean_lp"]) > abs(w["min_lp"])  # the test rows were never read
    assert model["fitted_on"] == ["funcy==2.1", "glom==24.11.0"] and model["n"] == 300  # validation + fit
    assert 0.5 <= model["shown_at_threshold"] < 0.6
    good = gate.learned_score({"mean_lp": -0.1, "min_lp": -1, "chars": 2, "unknown_name": 0}, model)
    bad = gate.learned_score({"mean_lp": -2.9, "min_lp": -1, "chars": 2, "unknown_name": 0}, model)
    assert good > model["threshold"] > bad


def test_rows_outside_the_validation_packages_are_refused(tmp_path):
    with pytest.raises(SystemExit):
        gate_fit.main([str(_write(tmp_path, _rows(repo="pydash==8.1.0"))), "--out", str(tmp_path / "m.json")])
    with pytest.raises(SystemExit):
        gate_fit.main([str(_write(tmp_path, _rows(split="test"))), "--out", str(tmp_path / "m.json")])
