"""Branch coverage of the source over the inputs (model/tasks/branches.py), from the arcs the
bridge's tracer records in the sandbox."""

from __future__ import annotations

from model.tasks import branches, differential
from model.tasks.inputs import Call

SOURCE = """def f(xs, limit):
    total = 0
    for x in xs:
        if x > limit:
            break
        total += x
    while total > 10:
        total -= 10
    if total == 3: return -1
    return total
"""


def cov(calls):
    run = differential.run_source(SOURCE, "f", calls)
    return branches.coverage(run.table, run.arcs(range(len(run.rows))))


def test_the_table_skips_one_line_bodies():
    table = branches.branches(SOURCE, "f")
    assert [(b.line, b.kind) for b in table] == [(3, "for"), (4, "if"), (7, "while")]


def test_outcomes_reached_are_counted_and_missing_ones_named():
    c = cov([Call(([1, 2], 5))])  # the loop entered and left, the if only false, the while never entered
    assert (c.covered, c.total) == (4, 6) and not c.complete
    assert "line 4 (if) never true" in c.missing and "line 7 (while) never entered" in c.missing
    assert c.describe() == "4 of 6 branch outcomes"
    full = cov([Call(([1, 2], 5)), Call(([9, 9], 5)), Call(([6, 6], 10)), Call(([], 0))])
    assert full.complete and full.describe() == "all branches"


def test_no_branches():
    run = differential.run_source("def g(x):\n    return x\n", "g", [Call((1,))])
    c = branches.coverage(run.table, run.arcs([0]))
    assert c.complete and c.describe() == "no branches"
