from training.evaluate import functions as F
from conftest import MODULE, TESTS


def test_mining_literal_cases():
    found = F.mine_test_file(TESTS)
    by = {}
    for name, args, expected in found:
        by.setdefault(name, []).append((args, expected))
    assert (["Hello World"], "hello-world") in by["slugify"]
    assert (["x"], "x") in by["slugify"]  # literal on the left
    assert by["clamp"][:3] == [([5, 0, 10], 5), ([-3, 0, 10], 0), ([42, 0, 10], 10)]  # parametrize
    assert ([0, 1, 2], 1) in by["clamp"]  # assertEqual
    assert ([113], "th") in by["ordinal"] and len(by["ordinal"]) == 8  # for-loop over a module table
    assert "needs_class" not in by  # `.x` on the result: not a literal comparison


def test_slice_keeps_what_the_function_needs():
    s = F.slice_function(MODULE, "slugify")
    assert s.startswith("import re\n") and "SEPARATOR = " in s and "_WORDS = re.compile" in s
    assert "def clamp" not in s and "class Box" not in s
    assert F.slice_function(MODULE, "clamp").startswith("def clamp")
    assert F.slice_function(MODULE, "needs_class") is None  # needs a class
    assert F.slice_function("import numpy\n\ndef f(x):\n    return numpy.abs(x)\n", "f") is None
    assert F.slice_function("def g():\n    return h()\n", "g") is None  # undefined name


def test_mutants_change_behaviour_and_cases_check_it():
    src = F.slice_function(MODULE, "clamp")
    muts = F.mutants(src, "clamp", seed=0)
    assert muts and all(m != src for _, m in muts)
    cases = [([5, 0, 10], 5), ([-3, 0, 10], 0), ([42, 0, 10], 10)]
    results = F.check_cases([src] + [m for _, m in muts] + ["def clamp(:"], "clamp", cases)
    assert results[0] == [True, True, True]
    assert any(r is not None and not all(r) for r in results[1:-1])
    assert results[-1] is None  # does not load


def test_find_functions(repo):
    fns = {f.name: f for f in F.find_functions([repo], seed=1)}
    assert set(fns) == {"slugify", "clamp", "ordinal"}
    for f in fns.values():
        assert f.module == "textutils" and f.cases
        assert f.mutant and f.mutation and f.mutant != f.source
        res = F.check_cases([f.source, f.mutant], f.name, f.cases)
        assert all(res[0]) and not all(res[1])
