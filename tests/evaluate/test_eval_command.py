import json

import pytest

from training.evaluate import report
from training.evaluate.run import Candidate
from wingman.cli import build_parser
from wingman.commands import evaluate as eval_command


def parse(argv):
    return build_parser().parse_args(["eval", *argv])


def test_candidates_from_paths(tmp_path):
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    args = parse(["--model", "base-dir", "--candidate", f"ft={adapter}", "--candidate", "full=ckpt/final"])
    assert eval_command.candidates(args) == [
        Candidate("base", "base-dir", None),
        Candidate("ft", "base-dir", str(adapter)),
        Candidate("full", "ckpt/final", None),
    ]
    with pytest.raises(SystemExit):
        eval_command.candidates(parse(["--candidate", "nopath"]))
    with pytest.raises(SystemExit):
        eval_command.candidates(parse(["--candidate", "base=x"]))


def test_eval_writes_side_by_side_report(minirepo, tmp_path):
    out = tmp_path / "out"
    spec = json.dumps({"completion": "return value\n"})
    args = parse(["--backend", "fake", "--fake-spec", spec, "--repo", str(minirepo), "--tasks", "line,infill,latency",
                  "--limit", "2", "--candidate", "ft=some/checkpoint", "--out", str(out), "--no-repo-tests"])
    assert args.func(args) == 0
    rep = json.loads((out / "report.json").read_text())
    assert [c["name"] for c in rep["candidates"]] == ["base", "ft"]
    assert rep["heldout"] == ["minirepo-src==local"] and rep["settings"]["limit"] == 2
    for c in rep["candidates"]:
        assert set(c["tasks"]) == {"line", "infill", "latency"}
        assert c["tasks"]["line"]["metrics"]["n"] == 2
    md = (out / "report.md").read_text()
    assert "| metric | target | base | ft |" in md and "| Line completion EM | 40.0% |" in md
    assert "Not comparable" not in md
    assert (out / "metrics.png").stat().st_size > 1000 and (out / "latency.png").is_file()
    lines = (out / "samples" / "ft" / "line.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "prediction" in json.loads(lines[0])

    # an earlier report joins the table; different samples are flagged
    old = json.loads((out / "report.json").read_text())
    old["candidates"] = old["candidates"][:1]
    old["candidates"][0]["tasks"]["line"]["samples_digest"] = "different"
    (tmp_path / "old.json").write_text(json.dumps(old))
    out2 = tmp_path / "out2"
    args = parse(["--backend", "fake", "--repo", str(minirepo), "--tasks", "line", "--limit", "2", "--out", str(out2),
                  "--compare", str(tmp_path / "old.json")])
    assert args.func(args) == 0
    md = (out2 / "report.md").read_text()
    assert f"| metric | target | base | base ({tmp_path.name}) |" in md
    assert "**Not comparable** (different samples): line" in md


def test_markdown_formats_missing_metrics():
    rep = {"created": "now", "settings": {"tasks": ["humaneval"], "limit": 1, "seed": 0}, "heldout": [],
           "candidates": [{"name": "a", "model": "m", "tasks": {"humaneval": {"metrics": {"n": 1, "pass@1": 0.25},
                                                                              "samples_digest": "x"}}},
                          {"name": "b", "model": "n", "tasks": {}}]}
    md = report.markdown(rep)
    assert "| HumanEval pass@1 | 12.0% | 25.0% | – |" in md


def test_a_candidate_can_carry_its_own_engine_options():
    args = parse(["--candidate", "today=default", "--candidate-option", "today:kernels=int4/bf16/bfloat16",
                  "--candidate-option", "today:threads=1"])
    cands = eval_command.candidates(args)
    assert cands[1].engine == {"kernels": "int4/bf16/bfloat16", "threads": "1"}
    with pytest.raises(SystemExit):
        eval_command.candidates(parse(["--candidate-option", "nobody:kernels=auto"]))


def test_a_bad_candidate_option_is_refused_by_name(tmp_path):
    from training.evaluate.run import Candidate, EvalOptions, _load

    with pytest.raises(ValueError, match="threads"):
        _load(EvalOptions(candidates=[]), Candidate("x", "default", None, {"threads": "many"}))


def test_candidates_of_separate_runs_are_paired_on_their_samples(minirepo, tmp_path):
    """Two invocations on the same samples (one per training arm, as they finish), then a third
    with no model that pairs them: the bootstrap rows come from the samples beside each report."""
    for name, text in (("a", "return value\n"), ("b", "pass\n")):
        args = parse(["--backend", "fake", "--fake-spec", json.dumps({"completion": text}), "--repo", str(minirepo),
                      "--tasks", "line", "--limit", "2", "--no-base", "--candidate", f"{name}=ckpt/{name}",
                      "--out", str(tmp_path / name), "--no-repo-tests"])
        assert args.func(args) == 0
    out = tmp_path / "both"
    args = parse(["--backend", "fake", "--repo", str(minirepo), "--tasks", "line", "--limit", "2", "--no-base",
                  "--out", str(out), "--compare", str(tmp_path / "a" / "report.json"),
                  "--compare", str(tmp_path / "b" / "report.json")])
    assert args.func(args) == 0
    rep = json.loads((out / "report.json").read_text())
    rows = {r["metric"]: r for r in rep["paired"]["b"]}
    es = rows["Line completion edit similarity"]
    assert es["n"] == 2 and es["reference"] > es["candidate"]  # the fake's two answers score differently
    assert "## b against a (paired bootstrap, 95%)" in (out / "report.md").read_text()
    # The combined report compared once more: its candidates' samples are still found where they were written.
    again = tmp_path / "again"
    args = parse(["--backend", "fake", "--repo", str(minirepo), "--tasks", "line", "--limit", "2", "--no-base",
                  "--out", str(again), "--compare", str(out / "report.json")])
    assert args.func(args) == 0
    assert json.loads((again / "report.json").read_text())["paired"]["b"] == rep["paired"]["b"]
