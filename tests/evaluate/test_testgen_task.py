"""`wingman eval --tasks testgen`: verified tests against today's unverified path, same functions."""

import re

from model.types import EngineInfo
from training.evaluate import testgen
from training.evaluate.context import EvalContext


class WrongTestsEngine:
    """Answers every chat prompt with tests whose expected values are all wrong."""

    info = EngineInfo(name="wrong", backend="fake", fim_template="none")

    def generate(self, messages, cancel=None, max_tokens=512):
        prompt = messages[-1]["content"]
        name = re.search(r"function `(\w+)`", prompt).group(1)
        module = re.search(r"module `(\w+)`", prompt).group(1)
        yield f"```python\nfrom {module} import {name}\n\n\ndef test_it():\n    assert {name}(1) == 'wrong'\n```\n"


def ctx_for(repo, limit=None):
    return EvalContext(repos=[repo], limit=limit, seed=7, log=lambda m: None)


def test_verified_path_is_scored_by_the_evals_own_checks_beside_the_unverified_one(repo):
    ctx = ctx_for(repo, limit=None)
    # The model's tests are all wrong: today's path fails everywhere; the verified one does not
    # take expected values from the model, so it still passes.
    out = testgen.run_testgen(WrongTestsEngine(), ctx)
    m = out["metrics"]
    assert m["n"] == 3 == len(out["samples"])
    assert m["baseline_all_pass_rate"] == 0.0 and m["baseline_kill_rate"] == 0.0
    assert m["all_pass_rate"] == 1.0 and m["verified_rate"] == 1.0
    assert m["mutants"] > 0 and m["kill_rate"] > 0.5 and m["coverage"] > 0.5
    assert m["median_seconds"] > 0
    for s in out["samples"]:
        assert s["v"]["all_pass"] and s["file"].startswith('"""Tests for ')


def test_a_file_that_fails_or_is_missing_scores_zero(repo):
    ctx = ctx_for(repo, limit=1)
    f = ctx.functions()[0]
    muts = testgen.eval_mutants(f, ctx.seed + 1)
    assert testgen.score_file(f, None, muts) == {"all_pass": False, "coverage": 0.0, "killed": 0,
                                                 "mutants": len(muts), "tests": 0}
    bad = f"from {f.module} import {f.name}\n\n\ndef test_wrong():\n    assert {f.name} is None\n"
    s = testgen.score_file(f, bad, muts)
    assert not s["all_pass"] and s["coverage"] == 0.0 and s["killed"] == 0
