import pytest

from training.evaluate import metrics


def test_levenshtein_and_edit_similarity():
    assert metrics.levenshtein("kitten", "sitting") == 3
    assert metrics.levenshtein("", "abc") == 3
    assert metrics.edit_similarity("abc", "abc") == 1.0
    assert metrics.edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert metrics.edit_similarity("", "") == 1.0
    assert metrics.edit_similarity("", "x") == 0.0


def test_exact_match_forgives_only_trailing_whitespace():
    assert metrics.exact_match("return x  ", "return x")
    assert not metrics.exact_match(" return x", "return x")  # a leading space changes Python code
    assert metrics.exact_match("a\n    b  \n\n", "a\n    b", multiline=True)
    assert not metrics.exact_match("a\n  b", "a\n    b", multiline=True)


def test_pass_at_k():
    assert metrics.pass_at_k(1, 1, 1) == 1.0
    assert metrics.pass_at_k(1, 0, 1) == 0.0
    assert metrics.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert metrics.pass_at_k(5, 1, 2) == pytest.approx(1 - (4 * 3) / (5 * 4))


def test_percentile():
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([3, 1, 2], 50) == 2
    assert metrics.percentile([0, 10], 90) == pytest.approx(9)
