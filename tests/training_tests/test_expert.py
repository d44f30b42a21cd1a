"""Expert iteration (training/expert.py): only train-split packages feed a round, only verified
samples are kept, and the kept records pack like annotate's."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pytest

from training import expert
from training.config import ConfigError, ExpertConfig, PackConfig, load_config
from training.io import ShardWriter, iter_records

CLAMP = '''\
import math


def clamp(x, lo, hi):
    """Clamp x into [lo, hi]."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


print("script code: not run by the checks")
'''
NOT_STDLIB = "import numpy\n\n\ndef total(xs, k):\n    s = 0\n    for x in xs:\n        s += x * k\n    return s\n"

GOOD_TESTS = ("```python\nimport pytest\n\n\ndef test_clamp_high():\n    assert clamp(5, 0, 3) == 3\n\n\n"
              "def test_clamp_low():\n    assert clamp(-1, 0, 3) == 0\n    assert clamp(2, 0, 3) == 2\n\n\n"
              "def test_clamp_wrong():\n    assert clamp(9, 0, 3) == 9\n```")
WRONG_TESTS = "```python\ndef test_clamp():\n    assert clamp(5, 0, 3) == 5\n```"
EMPTY_TESTS = "```python\ndef test_clamp():\n    clamp(1, 0, 3)\n    assert True\n```"
GOOD_JS = ("```javascript\nfunction clamp(x, lo, hi) {\n  if (x < lo) { return lo; }\n  if (x > hi) { return hi; }\n"
           "  return x;\n}\n```")
WRONG_JS = "```javascript\nfunction clamp(x, lo, hi) {\n  return Math.min(x, hi);\n}\n```"


def _corpus(tmp_path, n=10, extra=None):
    """n packages with the same clamp module (and one module that needs numpy), plus `extra`."""
    d = tmp_path / "clean"
    with ShardWriter(d) as w:
        for i in range(n):
            repo = f"pkg{i}==1.0"
            w.write({"repo": repo, "package": f"pkg{i}", "path": f"pkg{i}/util.py", "language": "python",
                     "text": CLAMP})
            w.write({"repo": repo, "package": f"pkg{i}", "path": f"pkg{i}/heavy.py", "language": "python",
                     "text": NOT_STDLIB})
        for rec in extra or []:
            w.write(rec)
    pack_yaml = tmp_path / "pack.yaml"
    pack_yaml.write_text("val_fraction: 0.2\nheldout_fraction: 0.2\nseed: 3\n")
    return d, pack_yaml


def _cfg(tmp_path, **kw) -> ExpertConfig:
    d, pack_yaml = _corpus(tmp_path, extra=kw.pop("extra", None))
    return ExpertConfig(input=str(d), output=str(tmp_path / "expert"), pack_config=str(pack_yaml), **kw)


def test_only_train_split_packages_and_never_the_heldout_list(tmp_path):
    heldout = {"repo": "inflection==0.5.1", "package": "inflection", "path": "inflection/x.py",
               "language": "python", "text": CLAMP}
    cfg = _cfg(tmp_path, limit=100, max_per_repo=5, extra=[heldout])
    splits = expert.train_repos(cfg.input, load_config(PackConfig, cfg.pack_config))
    assert {"train", "validation", "heldout"} <= set(splits.values())
    if splits["inflection==0.5.1"] != "train":  # make the test bite: force it into train's reach
        splits["inflection==0.5.1"] = "train"
    counts = Counter()
    targets = expert.pick(cfg, splits, counts)
    picked = {t.repo for t in targets}
    assert picked and picked <= {r for r, s in splits.items() if s == "train"} - {"inflection==0.5.1"}
    assert counts["files_skipped_validation"] and counts["files_skipped_heldout"]
    assert counts["files_skipped_heldout_list"] == 1
    assert {t.name for t in targets} == {"clamp"}  # numpy's module is not self-contained
    assert "print(" not in targets[0].module_text  # the module's script code is not run
    # Seeded: the same corpus and seed pick the same functions.
    assert [t.key for t in expert.pick(cfg, splits, Counter())] == [t.key for t in targets]


def test_a_correct_sample_is_kept_and_wrong_ones_rejected(tmp_path, tiny_tokenizer):
    replies = {"tests": [GOOD_TESTS, WRONG_TESTS, EMPTY_TESTS], "translate": [GOOD_JS, WRONG_JS]}
    drawn = []

    def sampler(messages, temperature, seed):
        task = "translate" if "Translate" in messages[-1]["content"] else "tests"
        i = sum(1 for t, _ in drawn if t == task)
        drawn.append((task, temperature))
        return replies[task][i]

    cfg = _cfg(tmp_path, limit=1, test_samples=3, translate_samples=2)
    report = expert.run(cfg, sampler=sampler, tokenizer=tiny_tokenizer)
    assert drawn[0] == ("tests", 0.0) and drawn[1] == ("tests", cfg.temperature)  # greedy first
    assert report["samples"] == {"tests": 3, "translate": 2}
    assert report["verified_pairs"] == {"function_to_tests_verified": 1, "translate_verified": 1}
    assert report["rejected"]["tests"] == {"no test passed": 1, "no assert on the function": 1}
    recs = list(iter_records(tmp_path / "expert" / "round-1"))
    assert [r["kind"] for r in recs] == ["function_to_tests_verified", "translate_verified"]
    tests_rec, js_rec = recs
    assert tests_rec["repo"].startswith("pkg") and tests_rec["path"].endswith("util.py")
    (prompt, False_), (answer, True_) = tests_rec["segments"]
    assert False_ is False and True_ is True
    assert "Write pytest tests for the function `clamp`" in prompt
    # Only the passing test functions are kept, with the imports they use.
    assert "test_clamp_high" in answer and "test_clamp_low" in answer and "test_clamp_wrong" not in answer
    assert "import pytest" in answer
    assert "Math.min" not in js_rec["segments"][1][0] and "function clamp" in js_rec["segments"][1][0]
    on_disk = json.loads((tmp_path / "expert" / "round-1" / "report.json").read_text())
    assert on_disk["verified_pairs"] == report["verified_pairs"]


def test_tests_that_kill_no_mutant_are_rejected(tmp_path):
    cfg = _cfg(tmp_path)
    (t,) = expert.pick(ExpertConfig(**{**cfg.__dict__, "limit": 1}),
                       expert.train_repos(cfg.input, load_config(PackConfig, cfg.pack_config)), Counter())
    # Passes, asserts on a call, but only in the middle of the range: every mutant passes it too.
    weak = "```python\ndef test_mid():\n    assert clamp(2, 0, 3) in (None, 1, 2, 3)\n```"
    v = expert.check_tests(t, weak, cfg)
    assert not v.ok and "kills none" in v.reason
    assert expert.check_tests(t, GOOD_TESTS, cfg).ok


@pytest.mark.parametrize("fmt", ["compact", "arrow"])
def test_round_records_load_in_pack_train_split_only(tmp_path, tiny_tokenizer, fmt):
    from training import pack

    cfg = _cfg(tmp_path, limit=2, tasks=["tests"], test_samples=1, mutants=0)
    report = expert.run(cfg, sampler=lambda m, t, s: GOOD_TESTS, tokenizer=tiny_tokenizer)
    kept = report["verified_pairs"]["function_to_tests_verified"]
    assert kept == 2
    round_dir = tmp_path / "expert" / "round-1"
    # A planted record of a validation package in the round: pack must drop it.
    pcfg = load_config(PackConfig, cfg.pack_config)
    splits = expert.train_repos(cfg.input, pcfg)
    val_repo = next(r for r, s in splits.items() if s == "validation")
    with open(round_dir / "data-00000.jsonl", "a") as f:
        f.write(json.dumps({"kind": "function_to_tests_verified", "repo": val_repo, "language": "python",
                            "path": "x.py", "segments": [["p", False], ["a", True]]}) + "\n")
    # The main input: one plain sample per package, as annotate would write.
    ann = tmp_path / "annotate"
    with ShardWriter(ann) as w:
        for r in iter_records(cfg.input):
            w.write({"kind": "plain", "repo": r["repo"], "language": "python", "path": r["path"],
                     "segments": [[r["text"], True]]})
    out = pack.run(PackConfig(input=str(ann), output=str(tmp_path / "pack"), seq_len=256, format=fmt,
                              val_fraction=pcfg.val_fraction, heldout_fraction=pcfg.heldout_fraction, seed=pcfg.seed,
                              extra_inputs=[str(round_dir)]), tokenizer=tiny_tokenizer)
    sp = out["splits"]
    assert sp["train"]["extra_samples"] == kept and sp["train"]["extra_samples_not_train_dropped"] == 1
    assert "extra_samples" not in sp["validation"] and "extra_samples" not in sp["heldout"]
    plain = sum(1 for r in iter_records(ann) if splits[r["repo"]] == "train")
    assert sp["train"]["samples"] == plain + kept
    if fmt == "compact":
        assert sp["train"]["kinds"]["function_to_tests_verified:samples"] == kept
        assert "function_to_tests_verified:samples" not in sp["validation"]["kinds"]
    shutil.rmtree(tmp_path / "pack")


def test_config_is_checked():
    with pytest.raises(ConfigError, match="tasks"):
        ExpertConfig(tasks=["poems"])
    with pytest.raises(ConfigError, match="unknown keys"):
        load_config(ExpertConfig, None, ["nonsense=1"])


def test_a_round_samples_from_the_engine(tmp_path, tiny_model, tiny_tokenizer):
    """The engine path end to end, on the tiny random model: it draws what it is asked for and
    writes its report (whatever a random model writes is rejected by the checks)."""
    cfg = _cfg(tmp_path, model=str(tiny_model), limit=1, test_samples=1, translate_samples=1, max_new_tokens=8)
    report = expert.run(cfg, tokenizer=tiny_tokenizer)
    assert report["samples"] == {"tests": 1, "translate": 1} and report["functions"]["tried"] == 1
    assert report["model"] == tiny_model.name
    assert len((tmp_path / "expert" / "round-1" / "samples.jsonl").read_text().splitlines()) == 2


def test_a_looping_sample_is_rejected_and_a_round_replays_its_samples(tmp_path, tiny_tokenizer):
    loop = "```python\ndef test_clamp():\n" + "    assert clamp(5, 0, 3) == 3\n" * 3 + "```"
    replies = [loop, GOOD_TESTS]
    cfg = _cfg(tmp_path, limit=1, tasks=["tests"], test_samples=2)
    first = expert.run(cfg, sampler=lambda m, t, s: replies.pop(0), tokenizer=tiny_tokenizer)
    assert first["rejected"]["tests"] == {"repeats an assert": 1}
    assert first["verified_pairs"]["function_to_tests_verified"] == 1
    # The same round again from its own samples.jsonl: the same verdicts, no model.
    samples = tmp_path / "expert" / "round-1" / "samples.jsonl"
    shutil.copy(samples, tmp_path / "sampled.jsonl")
    again = expert.run(ExpertConfig(**{**cfg.__dict__, "replay": str(tmp_path / "sampled.jsonl"), "limit": 5}),
                       tokenizer=tiny_tokenizer)
    assert again["model"].startswith("replayed from")
    assert again["rejected"] == first["rejected"] and again["verified_pairs"] == first["verified_pairs"]
    assert again["functions"]["tried"] == 1 and again["counts"]["functions_not_in_replay"] == 4


def test_a_checker_error_is_counted_and_the_round_goes_on(tmp_path, tiny_tokenizer, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(expert, "check_tests", broken)
    monkeypatch.setattr(expert.verify, "check", broken)
    cfg = _cfg(tmp_path, limit=2, test_samples=1, translate_samples=1)
    report = expert.run(cfg, sampler=lambda m, t, s: GOOD_JS if "Translate" in m[-1]["content"] else GOOD_TESTS,
                        tokenizer=tiny_tokenizer)
    assert report["functions"]["tried"] == 2
    assert report["rejected"]["tests"] == {"checker error (RuntimeError)": 2}
    assert report["rejected"]["translate"] == {"checker error (RuntimeError)": 2}
