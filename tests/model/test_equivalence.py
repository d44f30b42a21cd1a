"""The pinned equivalence rules of model/tasks/equivalence.py, one by one: each on wire values,
and each through both real harnesses (the Python source and a JavaScript candidate in the sandbox),
with a near miss that must not agree."""

from __future__ import annotations

import math
import shutil

import pytest

from model.tasks import bridge_runtime, differential
from model.tasks.equivalence import compare_rows, equal
from model.tasks.inputs import Call

enc = bridge_runtime.encode
node = pytest.mark.skipif(shutil.which("node") is None, reason="node not found on PATH")


# ---------------------------------------------------------------- on wire values


def test_rule_1_int_vs_float():
    assert equal(enc(2), 2) and equal(enc(2.0), 2) and equal(enc(2), 2.0)
    assert equal(enc(0.1 + 0.2), 0.30000000000000004)
    assert equal(enc(1.0), 1.0 + 1e-12)  # summation order: last bits
    assert not equal(enc(1.0), 1.001) and not equal(enc(2), 3)
    assert not equal(enc(True), 1) and not equal(enc(1), True) and equal(enc(True), True)
    assert equal(enc(2 ** 60), float(2 ** 60)) and not equal(enc(2 ** 60), 1.0)


def test_rule_2_tuple_vs_list():
    assert equal(enc((1, "a")), [1, "a"]) and equal(enc([(1, 2)]), [[1, 2]])
    assert not equal(enc((1, 2)), [2, 1]) and not equal(enc((1, 2)), [1, 2, 3])


def test_rule_3_none_vs_null_and_undefined():
    assert equal(enc(None), None) and equal(enc(None), {"$t": "undefined"})
    assert not equal(enc(None), 0) and not equal(enc(None), "") and not equal(enc(0), {"$t": "undefined"})


def test_rule_4_nan_and_infinities():
    assert equal(enc(math.nan), {"$t": "nan"})
    assert equal(enc(math.inf), {"$t": "inf", "sign": 1}) and not equal(enc(math.inf), {"$t": "inf", "sign": -1})
    assert not equal(enc(math.nan), 0) and not equal(enc(0.0), {"$t": "nan"})


def test_rule_5_dict_key_order_and_string_keys():
    js_obj = {"$t": "dict", "v": [["b", 2], ["a", 1]]}
    assert equal(enc({"a": 1, "b": 2}), js_obj)
    assert equal(enc({1: "x", 2: "y"}), {"$t": "dict", "v": [["2", "y"], ["1", "x"]]})  # object keys are strings
    assert not equal(enc({"a": 1, "b": 2}), {"$t": "dict", "v": [["a", 1], ["b", 3]]})
    assert not equal(enc({"a": 1}), {"$t": "dict", "v": [["a", 1], ["b", 2]]})
    assert not equal(enc({"a": 1}), [["a", 1]])


def test_rule_6_exceptions_vs_thrown_errors():
    raised = {"i": 0, "ok": False, "error": "ValueError", "message": "bad"}
    thrown = {"i": 0, "ok": False, "error": "RangeError", "message": "other words"}
    returned = {"i": 0, "ok": True, "value": {"$t": "undefined"}, "args": []}
    assert compare_rows(raised, thrown).agree
    assert not compare_rows(raised, returned).agree
    assert not compare_rows({"i": 0, "ok": True, "value": 1, "args": []}, thrown).agree
    assert not compare_rows(raised, None).agree  # crashed or timed out: no result is no agreement
    # An ill-typed input (Python's TypeError) is not compared: the target does not check types.
    ill = compare_rows({"i": 0, "ok": False, "error": "TypeError", "message": "'<' not supported"}, returned)
    assert not ill.comparable and not ill.agree


def test_sets_and_opaque_values():
    assert equal(enc({1, 2, 3}), {"$t": "set", "v": [3, 1, 2]}) and equal(enc({1, 2}), [2, 1])
    assert not equal(enc({1, 2}), [1, 1])
    assert not equal({"$t": "opaque", "type": "Foo"}, {"$t": "opaque", "type": "Foo"})
    out = compare_rows({"i": 0, "ok": True, "value": {"$t": "opaque", "type": "Foo"}, "args": []},
                       {"i": 0, "ok": True, "value": 1, "args": []})
    assert not out.comparable and not out.agree


def test_in_place_functions_compare_their_arguments():
    py = {"i": 0, "ok": True, "value": None, "args": [[1, 2, 3]]}
    assert compare_rows(py, {"ok": True, "value": {"$t": "undefined"}, "args": [[1, 2, 3]]}).agree
    assert not compare_rows(py, {"ok": True, "value": {"$t": "undefined"}, "args": [[3, 2, 1]]}).agree


def test_the_codec_round_trips():
    for v in [None, True, 3, -2.5, "é", [1, (2, 3)], {"a": [1]}, {1: 2}, {(1, 2): 3}, {1, 2}, 2 ** 70, b"ab"]:
        assert bridge_runtime.decode(enc(v)) == v
    assert math.isnan(bridge_runtime.decode(enc(math.nan)))


# ---------------------------------------------------------------- through both harnesses


def agree(py_body: str, js_body: str, calls: list[Call], params: str = "x") -> tuple[int, int, str]:
    src = f"def f({params}):\n" + "\n".join("    " + ln for ln in py_body.splitlines()) + "\n"
    run = differential.run_source(src, "f", calls)
    assert not run.error, run.error
    rows, why = differential.run_candidate(f"function f({params}) {{ {js_body} }}", "f", run.inputs)
    v = differential.compare(run, rows, why)
    return v.agreed, v.inputs, v.first_difference


@node
@pytest.mark.parametrize("py_body, js_body, same", [
    ("return x * 2", "return x * 2;", True),  # 1: Python int 4, JS number 4
    ("return x / 2", "return x / 2;", True),  # 1: Python float 1.5 / 2.0, JS number
    ("return x // 2", "return x / 2;", False),  # 1: 1 against 1.5 is a difference
    ("return x > 1", "return x > 1 ? 1 : 0;", False),  # 1: True is not 1
    ("return (x, x)", "return [x, x];", True),  # 2
    ("return (x, x)", "return [x];", False),  # 2
    ("return None", "return;", True),  # 3: undefined
    ("return None", "return null;", True),  # 3: null
    ("return None", "return 0;", False),  # 3
    ("return float('nan')", "return NaN;", True),  # 4
    ("return float('nan')", "return 0;", False),  # 4
    ("return {'a': x, 'b': 1}", "return {b: 1, a: x};", True),  # 5: key order
    ("return {'a': x}", "return {a: x + 1};", False),  # 5
    ("raise ValueError('no')", "throw new RangeError('nope');", True),  # 6
    ("raise ValueError('no')", "return -1;", False),  # 6
])
def test_each_rule_end_to_end(py_body, js_body, same):
    agreed, inputs, diff = agree(py_body, js_body, [Call((2,)), Call((3,))])
    assert inputs == 2
    assert (agreed == inputs) is same, diff
    assert bool(diff) is not same


@node
def test_a_javascript_error_is_a_difference_not_a_crash_of_the_checker(monkeypatch):
    agreed, inputs, diff = agree("return len(x)", "return x.length;", [Call(([1, 2],)), Call((None,))])
    # Python raises TypeError on None: that input is not compared (rule 6), the other agrees.
    assert (agreed, inputs) == (1, 1), diff
    agreed, inputs, diff = agree("return 1 / x", "return 1 / x;", [Call((2,)), Call((0,))])
    assert (agreed, inputs) == (1, 2) and "Python raises ZeroDivisionError" in diff  # Infinity is not a raise
    monkeypatch.setattr(differential, "RUN_LIMITS", differential.sandbox.Limits(timeout_s=2, cpu_s=3))
    agreed, inputs, diff = agree("return x", "while (true) {}", [Call((1,))])
    assert agreed == 0 and "ran out of time" in diff


@node
def test_a_candidate_missing_the_function_is_told():
    run = differential.run_source("def f(x):\n    return x\n", "f", [Call((1,))])
    rows, why = differential.run_candidate("function g(x) { return x; }", "f", run.inputs)
    assert rows == [None] and "defines no function f" in why
    v = differential.compare(run, rows, why)
    assert v.agreed == 0 and "defines no function" in v.first_difference


@node
def test_camel_case_names_are_found():
    run = differential.run_source("def add_one(x):\n    return x + 1\n", "add_one", [Call((1,))])
    rows, _ = differential.run_candidate("const addOne = (x) => x + 1;", "add_one", run.inputs)
    assert differential.compare(run, rows).agreed == 1
