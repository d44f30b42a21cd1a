"""The confidence gate's decisions on fixed candidates (model/gate.py)."""

import pytest

from model import gate

FILE = 'import math\n\n\ndef mean(values):\n    total = 0\n    for v in values:\n        total += v\n    return '
SUFFIX = "\n"


@pytest.mark.parametrize("text,confident,why", [
    ("total / len(values)", 0.8, []),
    ("math.gmean(values)", 0.8, ["missing_attribute"]),  # the `make run` demo's suggestion
    ("math.fsum(values) / len(values)", 0.8, []),
    ("totl / len(vals)", 0.8, ["unknown_name"]),
    ("total / len(values))", 0.8, ["unbalanced", "does_not_parse"]),
])
def test_findings(text, confident, why):
    assert gate.findings(text, FILE, SUFFIX) == why


def test_repeats_the_line_above_and_only_closes():
    prefix = "x = compute(a,\n            b)\nx = compute(a,\n"
    assert "repeats_line_above" in gate.findings("y = 1", "y = 1\n", "")
    assert "only_closes" in gate.findings(")", "print(foo(1", "\n")


def test_names_from_the_context_and_bound_by_the_candidate_are_in_scope():
    prefix = "from shapes import *\n\ndef f(ps):\n    return sum(quadrilateral_"
    assert "unknown_name" in gate.findings("zorblax_area(p) for p in ps)", prefix, "\n")
    assert gate.findings("zorblax_area(p) for p in ps)", prefix, "\n",
                         context="def quadrilateral_zorblax_area(points):\n") == []


def test_the_hand_set_score_and_comments():
    v = gate.legacy_score("total / len(values)", 0.7, FILE, SUFFIX)
    assert v == (pytest.approx(0.7), [])
    assert gate.legacy_score("math.gmean(values)", 0.9, FILE, SUFFIX)[0] < 0.2
    comment = "def f():\n    # compute the "
    assert gate.in_comment_or_string(comment) and gate.in_comment_or_string('x = "abc')
    assert not gate.in_comment_or_string("x = f(")
    assert not gate.decide("mean of the values", 0.5, comment, "\n", threshold=0.01, comment_threshold=0.6).show
    assert gate.decide("mean of the values", 0.5, comment, "\n", threshold=0.01, invoked=True,
                       comment_threshold=0.6).show  # asked for
    assert gate.decide("mean of the values", 0.99, comment, "\n", threshold=0.01, comment_threshold=0.01).show


def test_the_shipped_gate_at_its_default_threshold():
    """The coefficients in model/gate_model.json, fitted on funcy and glom: a confident, clean
    candidate is shown; the same text when the model was unsure, or a name that does not exist, is not."""
    assert gate.MODEL is not None and set(gate.MODEL["fitted_on"]) == {"funcy==2.1", "glom==24.11.0"}
    t = gate.DEFAULT_THRESHOLD
    sure, fair, unsure = [-0.05] * 6, [-1.2] * 6, [-2.5] * 6
    assert gate.decide("total / len(values)", 0.95, FILE, SUFFIX, t, logprobs=sure).show
    assert not gate.decide("total / len(values)", 0.08, FILE, SUFFIX, t, logprobs=unsure).show
    assert not gate.decide("math.gmean(values)", 0.95, FILE, SUFFIX, t, logprobs=sure).show
    # An unknown name about halves the estimate: at a fair confidence it tips the candidate under.
    assert gate.decide("total / len(values)", 0.3, FILE, SUFFIX, t, logprobs=fair).show
    assert not gate.decide("totl / len(vals)", 0.3, FILE, SUFFIX, t, logprobs=fair).show
    clean = gate.score("total / len(values)", 0.6, FILE, SUFFIX, logprobs=[-0.5] * 6)[0]
    assert gate.score("total / len(values))", 0.6, FILE, SUFFIX, logprobs=[-0.5] * 6)[0] < clean  # unbalanced


def test_features_and_the_learned_score_without_log_probabilities():
    f = gate.features("total / len(values)", 0.7, FILE, SUFFIX, logprobs=[-0.1, -0.5, -0.3], stop_reason="newline")
    assert f["first_lp"] == -0.1 and f["min_lp"] == -0.5 and f["mean_lp"] == pytest.approx(-0.3)
    assert f["typed_on_line"] == 1.0 and f["ran_to_limit"] == 0.0 and f["unknown_name"] == 0.0
    assert gate.features("total", 0.7, FILE, SUFFIX)["copied"] == 1.0  # `total` is in the file
    remote = gate.features("total / len(values)", gate.NO_CONFIDENCE, FILE, SUFFIX)
    assert not set(gate.LOGPROB_FEATURES) & set(remote)  # a remote backend: nothing made up
    model = {"features": ["mean_lp", "unknown_name"], "weights": [2.0, -1.0], "mean": [-1.0, 0.0],
             "std": [1.0, 1.0], "bias": 0.0}
    assert gate.learned_score(remote, model) == pytest.approx(0.5)  # the missing feature at its mean
    assert gate.learned_score(f, model) > 0.5 > gate.learned_score(f | {"unknown_name": 1.0, "mean_lp": -2}, model)
    # A check the model has no coefficient for keeps its hand-set factor.
    assert gate.learned_score(f | {"missing_attribute": 1.0}, model) == pytest.approx(
        gate.learned_score(f, model) * gate.FACTORS["missing_attribute"])


def test_the_parse_check_looks_at_the_statement_around_the_cursor_only():
    big = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(2000))
    head, tail = gate._local(big + "def g(v):\n    return ", "\n\n\ndef h():\n    pass\n")
    assert head == "def g(v):\n    return " and tail == "\n\n"
    assert gate.findings("v +", big + "def g(v):\n    return ", "\n") == ["does_not_parse"]


def test_a_backend_without_log_probabilities_is_gated_by_the_checks_alone():
    t, none = gate.DEFAULT_THRESHOLD, gate.NO_CONFIDENCE
    assert gate.decide("total / len(values)", none, FILE, SUFFIX, t).show
    for flawed in ("math.gmean(values)", "totl / len(vals)", "total / len(values))"):
        assert not gate.decide(flawed, none, FILE, SUFFIX, t).show, flawed
    comment = FILE + "# the mean is "
    assert not gate.decide("total / len(values)", none, comment, SUFFIX, t).show  # no confidence to go on
    assert gate.decide("total / len(values)", none, comment, SUFFIX, t, invoked=True).show


def test_the_vscode_default_is_the_shipped_threshold():
    """VS Code sends its own default for every setting: it must be the calibrated one."""
    import json
    from pathlib import Path

    pkg = json.loads((Path(__file__).resolve().parents[2] / "editors/vscode/package.json").read_text())
    props = pkg["contributes"]["configuration"]
    props = props if isinstance(props, dict) else {k: v for c in props for k, v in c["properties"].items()}
    props = props.get("properties", props)
    assert props["wingman.completion.gateThreshold"]["default"] == gate.DEFAULT_THRESHOLD
