import pytest

from model.stops import StopChecker, choose_mode, finish_completion, trim_suffix_overlap


@pytest.mark.parametrize(
    "prefix,suffix,mode",
    [
        ("def f(x):\n    ", "\n", "multi"),  # empty line after a block opener
        ("function f() {\n  ", "\n}", "multi"),
        ("x = foo(", ")\n", "single"),  # mid-line
        ("x = 1\n", "", "single"),  # empty line, no opener
        ("total = ", "\n", "single"),  # end of a line with text
        ("if ok:  # comment\n    ", "", "multi"),
    ],
)
def test_choose_mode(prefix, suffix, mode):
    assert choose_mode(prefix, suffix) == mode


def test_single_line_stops_at_newline():
    assert StopChecker("single", "x = ").check("1 + 2\ny = 3") == (5, "newline")
    assert StopChecker("single", "x = ").check("1 + 2") is None


def test_multi_line_stops_on_dedent_python():
    text, reason = finish_completion("return x + 1\n\ndef g():\n    pass", "def f(x):\n    ", "\n", "multi")
    assert (text, reason) == ("return x + 1", "dedent")


def test_multi_line_keeps_nested_blocks():
    raw = "for i in x:\n        if i:\n            y += i\n    return y\nprint(1)"
    text, _ = finish_completion(raw, "def f(x):\n    ", "", "multi")
    assert text == "for i in x:\n        if i:\n            y += i\n    return y"


def test_multi_line_brace_language_stops_at_closing_brace():
    text, reason = finish_completion("  return a + b;\n}\n", "function f(a, b) {\n", "\n}", "multi")
    assert text == "  return a + b;"


def test_trim_suffix_overlap_single_line():
    assert trim_suffix_overlap("a, b)", ")", "single") == ("a, b", True)
    assert trim_suffix_overlap("a, b):", "):\n", "single") == ("a, b", True)
    # a complete call before the suffix's ")" is not an echo of it
    assert trim_suffix_overlap("foo()", ")", "single") == ("foo()", False)
    assert trim_suffix_overlap("foo())", ")", "single") == ("foo()", True)


def test_trim_suffix_overlap_multi_line():
    text, trimmed = trim_suffix_overlap("result = x * 2\n    return result\n", "\n    return result\n", "multi")
    assert trimmed and text == "result = x * 2"
