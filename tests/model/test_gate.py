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


def test_threshold_and_comments():
    v = gate.decide("total / len(values)", 0.7, FILE, SUFFIX, threshold=0.5)
    assert v.show and v.score == pytest.approx(0.7)
    assert not gate.decide("math.gmean(values)", 0.9, FILE, SUFFIX, threshold=0.2).show
    assert not gate.decide("total / len(values)", 0.3, FILE, SUFFIX, threshold=0.5).show
    comment = "def f():\n    # compute the "
    assert gate.in_comment_or_string(comment) and gate.in_comment_or_string('x = "abc')
    assert not gate.in_comment_or_string("x = f(")
    assert not gate.decide("mean of the values", 0.5, comment, "\n", threshold=0.1).show  # typing in a comment
    assert gate.decide("mean of the values", 0.5, comment, "\n", threshold=0.1, invoked=True).show  # asked for
    assert gate.decide("mean of the values", 0.9, comment, "\n", threshold=0.1).show  # confident


def test_the_parse_check_looks_at_the_statement_around_the_cursor_only():
    big = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(2000))
    head, tail = gate._local(big + "def g(v):\n    return ", "\n\n\ndef h():\n    pass\n")
    assert head == "def g(v):\n    return " and tail == "\n\n"
    assert gate.findings("v +", big + "def g(v):\n    return ", "\n") == ["does_not_parse"]
