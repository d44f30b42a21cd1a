"""Inputs for generated tests and differential runs (model/tasks/inputs.py)."""

import ast

import pytest

from model.tasks.inputs import Call, generate_inputs, literal

SRC = '''
def clamp(x: int, lo: int = 0, hi: int = 10) -> int:
    """Clamp x into [lo, hi].

    >>> clamp(15)
    10
    clamp(-3) == 0
    """
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def shout(text):
    return text.upper() + "!"


class Stack:
    def push(self, item, times=1):
        self.items.extend([item] * times)
'''


def test_docstring_examples_come_first_with_their_claims():
    calls = generate_inputs(SRC, "clamp")
    assert [(c.render("clamp"), c.expected) for c in calls[:2]] == [("clamp(15)", "10"), ("clamp(-3)", "0")]
    assert all(c.origin == "docstring" for c in calls[:2])


def test_boundaries_include_the_compared_constants_and_their_neighbours():
    rendered = {c.render("clamp") for c in generate_inputs(SRC, "clamp") if c.origin == "boundary"}
    assert {"clamp(0)", "clamp(-1)", "clamp(1)", "clamp(9)", "clamp(10)", "clamp(11)"} <= rendered
    assert any("hi=" in r for r in rendered) and any("lo=" in r for r in rendered)


def test_kinds_are_inferred_from_use_when_there_is_no_hint():
    calls = generate_inputs(SRC, "shout")
    assert calls and all(isinstance(c.args[0], str) for c in calls)
    assert "" in {c.args[0] for c in calls}


def test_hypothesis_draws_from_hints_reproducibly():
    a = [c for c in generate_inputs(SRC, "clamp", seed=3) if c.origin == "hypothesis"]
    b = [c for c in generate_inputs(SRC, "clamp", seed=3) if c.origin == "hypothesis"]
    assert a and a == b and all(type(c.args[0]) is int for c in a)


def test_model_proposals_are_parsed_not_run_and_must_fit_the_signature():
    proposals = ["assert clamp(4, 1, 3) == 3\nclamp(__import__('os').system('x'))\nclamp(1, 2, 3, 4)",
                 "def test_cut_off():\n    assert clamp(7, hi=5) =="]
    model = [c.render("clamp") for c in generate_inputs(SRC, "clamp", proposals=proposals) if c.origin == "model"]
    assert model == ["clamp(4, 1, 3)"]


def test_methods_take_no_self_and_calls_are_deduplicated():
    calls = generate_inputs(SRC, "Stack.push", proposals=["s.push(3)", "s.push(3)"])
    keys = [c.key() for c in calls]
    assert len(keys) == len(set(keys))
    assert all(1 <= len(c.args) <= 1 for c in calls)


def test_one_and_true_and_one_point_oh_are_different_inputs():
    assert len({Call((1,)), Call((True,)), Call((1.0,))}) == 3


@pytest.mark.parametrize("value", [1, -2.5, float("inf"), float("nan"), "x'\"", b"\x00", None, (1,), (), [1, {2: "a"}],
                                   {3, 1}, frozenset(), set(), {"a": (1, 2)}])
def test_literals_round_trip(value):
    text = literal(value)
    assert text is not None
    got = eval(text, {})  # noqa: S307 - our own literal text
    assert got == value or (value != value and got != got)
    assert type(got) is type(value)


def test_objects_have_no_literal():
    assert literal(object()) is None and literal([1, object()]) is None


def test_bad_source_is_a_clear_error():
    with pytest.raises(ValueError, match="no function nope"):
        generate_inputs(SRC, "nope")
    with pytest.raises(ValueError, match="does not parse"):
        generate_inputs("def (", "f")


def test_rendered_calls_parse():
    for c in generate_inputs(SRC, "clamp"):
        ast.parse(c.render("clamp"))
