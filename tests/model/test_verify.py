"""The verified-translation loop (model/tasks/verify.py) and the toolchain checks: a wrong
candidate is never shown as verified, a missing toolchain is a skip with its reason, and what the
header says matches what was checked."""

from __future__ import annotations

import shutil

import pytest

from model.tasks import toolchains, verify
from model.tasks.inputs import Call

node = pytest.mark.skipif(shutil.which("node") is None, reason="node not found on PATH")

CLAMP = """def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
"""
RIGHT = "function clamp(x, lo, hi) {\n  if (x < lo) return lo;\n  if (x > hi) return hi;\n  return x;\n}\n"
# Wrong only above the range: agrees on most inputs, differs on some.
WRONG = "function clamp(x, lo, hi) {\n  if (x < lo) return lo;\n  return x;\n}\n"
BROKEN = "function clamp(x, lo, hi) {\n  return min(max(x for x in [lo]), hi)\n}\n"


def run(candidates, source=CLAMP, target="javascript", **kw):
    options = verify.VerifyOptions(**{"candidates": len(candidates), **kw})
    p = verify.plan(source, "python", target, options=options)
    return verify.run(lambda i: candidates[i], p, options), p


@node
def test_the_verified_candidate_is_chosen_and_sampling_stops_there():
    res, p = run([BROKEN, WRONG, RIGHT, WRONG])
    assert [c.verified for c in res.candidates] == [False, False, True]  # the fourth never drawn
    assert res.stopped == "verified" and res.chosen.index == 2
    assert res.chosen.summary.startswith("verified against the Python source on ")
    assert "all branches" in res.chosen.summary
    assert verify.header(res.chosen, p, 3).startswith("// Wingman: verified")


@node
def test_a_wrong_candidate_is_never_shown_as_verified():
    res, _ = run([WRONG, BROKEN])
    assert res.chosen is not None and not res.chosen.verified
    assert res.chosen.index == 0  # it compiles and agrees more often than the broken one
    assert res.chosen.summary.startswith("unverified: differs on clamp(")
    assert "expected" in res.chosen.summary and "got" in res.chosen.summary
    assert "verified against" not in res.chosen.summary


@node
def test_too_few_inputs_or_branches_never_verify():
    few = lambda src, q: [Call((5, 0, 10)), Call((-1, 0, 10))]  # noqa: E731
    p = verify.plan(CLAMP, "python", "javascript", calls_for=few)
    c = verify.check(verify.Candidate(0, RIGHT), p, verify.VerifyOptions())
    assert not c.verified and "fewer than the 5 required" in c.summary
    one_path = lambda src, q: [Call((x, 0, 100)) for x in range(1, 8)]  # noqa: E731
    p = verify.plan(CLAMP, "python", "javascript", calls_for=one_path)
    c = verify.check(verify.Candidate(0, RIGHT), p, verify.VerifyOptions())
    assert not c.verified and "branch outcomes" in c.summary
    assert verify.check(verify.Candidate(0, RIGHT), p, verify.VerifyOptions(all_branches=False)).verified


@node
def test_a_class_or_several_functions():
    source = CLAMP + "\n\ndef double(x):\n    return 2 * x\n"
    both = RIGHT + "function double(x) { return 2 * x; }\n"
    res, _ = run([both], source=source)
    assert res.chosen.verified and "clamp on " in res.chosen.summary and "double on " in res.chosen.summary
    res, _ = run([RIGHT + "function double(x) { return x + x + 1; }\n"], source=source)
    assert not res.chosen.verified and "double: differs on double(" in res.chosen.summary
    res, _ = run([RIGHT + "class Box {}\n"], source=CLAMP + "\n\nclass Box:\n    def get(self):\n        return 1\n")
    assert not res.chosen.verified and "class Box: its methods need an instance" in res.chosen.summary


def test_a_compiled_target_is_checked_by_its_toolchain_only():
    res, _ = run(["pub fn clamp(x: i64, lo: i64, hi: i64) -> i64 { x.max(lo).min(hi) }"], target="rust")
    c = res.chosen
    assert not c.verified and c.summary.startswith("unverified:")
    if c.tool.ok is None:
        assert "skipped" in c.summary
    else:
        assert c.tool.ok and "not run" in c.summary


def test_missing_toolchains_skip_with_a_reason(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "home"))  # no TypeScript installed
    toolchains._real_rustc.cache_clear()
    try:
        for lang, why in [("javascript", "node not found"), ("java", "javac not found"), ("cpp", "g++ not found"),
                          ("rust", "rustc not found"), ("go", "go not found"), ("typescript", "node not found")]:
            r = toolchains.check(lang, "whatever")
            assert r.ok is None and r.skipped and why in r.message, (lang, r)
            assert "skipped" in r.describe()
        monkeypatch.setenv("PATH", "/usr/local/bin:/usr/bin:/bin")
        if shutil.which("node"):
            r = toolchains.check("typescript", "let x: number = 1;")
            assert r.ok is None and "make typescript" in r.message
        # A skip never verifies.
        res, _ = run(["function clamp(x, lo, hi) { return x; }"], target="typescript")
        assert not res.chosen.verified and "skipped" in res.chosen.summary
    finally:
        toolchains._real_rustc.cache_clear()


@pytest.mark.parametrize("lang, good, bad", [
    ("javascript", "function f(a) { return a + 1; }", "function f(a) { return sum(x for x in a) }"),
    ("java", "public static int f(int[] a) { return a.length; }", "public static int f(int[] a) { return a.size(); }"),
    ("cpp", "#include <vector>\nint f(const std::vector<int>& a) { return a.size(); }", "int f(std::vector<int> a) { return 1; }"),
    ("rust", "pub fn f(a: &[i64]) -> usize { a.len() }", "pub fn f(a: &[i64]) -> usize { a.size() }"),
    ("typescript", "function f(a: number[]): number { return a.length; }", "function f(a: number[]): number { return a.foo; }"),
])
def test_toolchains_accept_and_reject(lang, good, bad):
    why = toolchains.missing(lang)
    if why:
        pytest.skip(why)
    ok, ko = toolchains.check(lang, good), toolchains.check(lang, bad)
    assert ok.ok is True, ok
    assert ko.ok is False and ko.message, ko


@node
def test_first_versus_all_occurrences_is_caught():
    # JavaScript's replace changes the first "_" only: inputs holding "_" twice tell them apart.
    source = "def dash(word):\n    return word.replace('_', '-')\n"
    once = lambda src, q: [Call((w,)) for w in ("a_b", "x", "", "_", "hello_world", "q_")]  # noqa: E731
    p = verify.plan(source, "python", "javascript", calls_for=once)
    c = verify.check(verify.Candidate(0, "function dash(word) { return word.replace('_', '-'); }"), p,
                     verify.VerifyOptions())
    assert not c.verified and "ab_cd_ef" in c.summary
    c = verify.check(verify.Candidate(0, "function dash(word) { return word.replaceAll('_', '-'); }"), p,
                     verify.VerifyOptions())
    assert c.verified
