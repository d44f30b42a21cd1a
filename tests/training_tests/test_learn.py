"""`wingman learn` on tiny repositories and a tiny model: what is read, what is held out, what is
refused, and a whole run that installs into the cache and nowhere else (training/learn/)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from server.privacy import is_private
from training.config import StepError
from training.learn.config import LearnConfig
from training.learn.files import collect, path_hash
from training.learn.split import boilerplate_lines, split

from .conftest import GEOMETRY, MIT, STRINGS, write_tree
from .pipeline import run_data_steps

ROOT = Path(__file__).resolve().parents[2]
WORDS = "alpha beta gamma delta omega sigma kappa theta rho tau zeta eta iota nu xi phi chi psi".split()


def module(i: int, funcs: int = 4) -> str:
    """A distinct, parseable Python module (no two near-duplicates)."""
    rng = random.Random(i)
    out = [f'"""Module {i}: helpers for {rng.choice(WORDS)} records."""', "import math", ""]
    for j in range(funcs):
        a, b = rng.sample(WORDS, 2)
        out += [f"def {rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}_{j}({a}, {b}):",
                f"    total = {a} {rng.choice('+-*%')} {b}",
                f"    if total > {rng.randint(2, 97)}:",
                f"        total = math.floor(total / {rng.randint(2, 9)})",
                f"    return [total * x for x in range({rng.randint(2, 9)})]", "", ""]
    return "\n".join(out)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def make_repo(root: Path, n: int = 14, with_git: bool = True) -> Path:
    write_tree(root, {f"pkg/mod{i}.py": module(i) for i in range(n)})
    if with_git:
        git(root, "init", "-q")
        git(root, "add", "-A")
    return root


def test_collect_reads_tracked_source_and_skips_what_it_must(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text(GEOMETRY)
    repo = make_repo(tmp_path / "repo", n=3)
    write_tree(repo, {"pkg/secrets.py": STRINGS, "third_party/lib.py": GEOMETRY, "pkg/api_pb2.py": GEOMETRY,
                      "pkg/keys.py": 'AWS = "AKIAABCDEFGHIJKLMNOP"\nowner = "dev@example.org"\n',
                      "build/gen.py": GEOMETRY, ".gitignore": "build/\npkg/forced.py\n", "pkg/forced.py": GEOMETRY,
                      "pkg/untracked.py": GEOMETRY})
    (repo / "pkg" / "blob.py").write_bytes(b"x = 1\n\0\1\2")
    (repo / "pkg" / "link.py").symlink_to(outside)
    git(repo, "add", "pkg", "third_party", ".gitignore")
    git(repo, "add", "-f", "pkg/forced.py")  # tracked, though .gitignore now covers it
    git(repo, "reset", "-q", "pkg/untracked.py")
    found = collect(repo, lambda p: is_private(p))
    kept = {f.path for f in found.files}
    assert found.git
    assert kept == {"pkg/mod0.py", "pkg/mod1.py", "pkg/mod2.py", "pkg/keys.py"}
    keys = next(f for f in found.files if f.path == "pkg/keys.py").text
    assert "AKIA" not in keys and "<SECRET>" in keys and "<EMAIL>" in keys
    c = found.counts
    assert c["private"] == 1 and c["vendored"] == 1 and c["generated"] == 1 and c["binary"] == 1
    assert c["outside_repository"] == 1  # the symlink to ../outside.py is not followed


def test_a_folder_without_git_is_walked_with_the_same_rules(tmp_path):
    repo = make_repo(tmp_path / "plain", n=3, with_git=False)
    write_tree(repo, {".gitignore": "out/\n", "out/x.py": GEOMETRY, "node_modules/m.js": "var a = 1;\n",
                      "pkg/.gitignore": "local_*.py\n", "pkg/local_conf.py": GEOMETRY, ".env": "TOKEN=x"})
    found = collect(repo)
    assert not found.git
    assert {f.path for f in found.files} == {"pkg/mod0.py", "pkg/mod1.py", "pkg/mod2.py"}


def test_past_the_bound_a_fixed_sample_is_taken_and_said(tmp_path):
    repo = make_repo(tmp_path / "big", n=12)
    a = collect(repo, max_files=5)
    b = collect(repo, max_files=5)
    assert len(a.files) == 5 and [f.path for f in a.files] == [f.path for f in b.files]
    assert "12 source files is over the bound of 5" in a.sampled


def test_hold_out_is_stable_and_copies_of_held_out_files_are_not_trained_on(tmp_path):
    repo = make_repo(tmp_path / "r", n=20)
    files = collect(repo).files
    first = split(files, share=0.1, min_heldout=3)
    assert len(first.heldout_python) >= 3
    again = split(list(reversed(files)), share=0.1, min_heldout=3)
    assert {f.path for f in again.heldout} == {f.path for f in first.heldout}
    # A training file that copies a held-out one, with another licence header and imports, is dropped.
    held = first.heldout[0]
    copy = "# Copyright someone else\n# SPDX-License-Identifier: MIT\nimport os\nimport sys\n" + held.text
    write_tree(repo, {"pkg/copied.py": copy})
    git(repo, "add", "-A")
    parts = split(collect(repo).files, share=0.1, min_heldout=3)
    assert {f.path for f in parts.heldout} == {f.path for f in first.heldout}  # a new file moves nothing
    assert "pkg/copied.py" not in {f.path for f in parts.train + parts.validation}
    assert parts.dropped and parts.dropped[0]["path"] == "pkg/copied.py"
    assert path_hash("a.py", "heldout") == path_hash("a.py", "heldout")


def test_boilerplate_lines_are_the_licence_header_and_imports():
    text = "# Copyright 2020\n# Licensed under MIT\n\"\"\"Doc.\n\nMore.\n\"\"\"\nimport os\nfrom a import b\n\nx = 1\n"
    assert boilerplate_lines(text) == {0, 1, 2, 3, 4, 5, 6, 7}


@pytest.mark.parametrize("kind", ["empty", "binary", "small"])
def test_repositories_it_cannot_learn_are_refused_before_any_training(tmp_path, kind, monkeypatch):
    from training.learn.run import learn

    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "home"))
    repo = tmp_path / kind
    repo.mkdir()
    git(repo, "init", "-q")
    if kind == "binary":
        for i in range(5):
            (repo / f"b{i}.py").write_bytes(b"\0\1\2\3" * 50)
        git(repo, "add", "-A")
    if kind == "small":
        make_repo(repo, n=5)
    with pytest.raises(StepError) as e:
        learn(LearnConfig(repo=str(repo)), say=lambda *a: None)
    said = str(e.value)
    assert "Nothing was trained" in said
    if kind == "binary":
        assert "binary 5" in said
    if kind == "small":
        assert "5 source files" in said and "at least 30 files and 100 KB" in said
    assert not (tmp_path / "home" / "adapters").exists()


def test_accepted_suggestions_in_training_files_become_weighted_samples(tmp_path, monkeypatch):
    from model.acceptance_log import AcceptanceLog
    from training.learn.data import accepted_samples

    repo = make_repo(tmp_path / "r", n=20)
    parts = split(collect(repo).files)
    log_file = tmp_path / "log.jsonl"
    store = AcceptanceLog(log_file)
    train_file, held_file = str(repo / parts.train[0].path), str(repo / parts.heldout[0].path)
    store.record(train_file, "python", "def f(", "", "a, b):", "accepted")
    store.record(train_file, "python", "x = ", "", "1", "typed")
    store.record(train_file, "python", "y = ", "", "2", "superseded")
    store.record(held_file, "python", "z = ", "", "3", "accepted")  # held out: would leak into the check
    store.record(str(tmp_path / "elsewhere.py"), "python", "w = ", "", "4", "accepted")
    rows = accepted_samples(repo, parts, log_file)
    assert [r["suggestion"] for r in rows] == ["a, b):", "1"]


def test_the_acceptance_log_is_bounded(tmp_path):
    from model.acceptance_log import AcceptanceLog, delete, read

    path = tmp_path / "log.jsonl"
    store = AcceptanceLog(path, max_records=10)
    for i in range(35):
        store.record("/r/a.py", "python", "p" * 5000, "s" * 900, f"s{i}", "accepted")
    rows = list(read(path))
    assert 10 <= len(rows) <= 20 and rows[-1]["suggestion"] == "s34"
    assert len(rows[0]["prefix"]) == 2000 and len(rows[0]["suffix"]) == 500
    assert set(rows[0]) == {"time", "path", "language", "prefix", "suffix", "suggestion", "fate"}
    assert delete(path) and not path.exists()


# ---------------------------------------------------------------- a whole run on the tiny model


@pytest.fixture(scope="module")
def shipped(tmp_path_factory, tiny_model, tiny_tokenizer) -> Path:
    """A tiny "shipped" adapter (the default model's, at toy scale) to warm-start from."""
    from training import train
    from training.config import TrainConfig

    tmp = tmp_path_factory.mktemp("shipped")
    repos = [write_tree(tmp / "src" / "geometry", {"LICENSE": MIT, "geometry.py": GEOMETRY}),
             write_tree(tmp / "src" / "strings", {"LICENSE": MIT, "strings_util.py": STRINGS})]
    run_data_steps(repos, tmp, tiny_tokenizer, seq_len=48)
    train.run(TrainConfig(data=str(tmp / "pack"), output=str(tmp / "run"), base_model=str(tiny_model), lora_r=4,
                          lora_alpha=8, lora_targets=["q_proj", "v_proj"], micro_batch_size=2, grad_accum=1,
                          max_steps=1, eval_every=1, save_every=1, warmup_steps=1, adaptive_threads=False))
    return tmp / "run" / "final"


def _sets(tiny_model: Path, shipped: Path, **kw) -> list[str]:
    opts = dict(base_model=str(tiny_model), init_adapter=str(shipped), min_files=10, min_bytes=1000, seq_len=64,
                eval_limit=4, quantize="none", max_steps=2, save_every=1, eval_every=1, minutes=1, **kw)
    return [x for k, v in opts.items() for x in ("--set", f"{k}={v}")]


def _cli(args: list[str], home: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WINGMAN_HOME": str(home), "OMP_NUM_THREADS": "1",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "wingman", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_a_killed_run_installs_nothing_then_a_whole_run_installs_into_the_cache(tmp_path, tiny_model, shipped):
    from model import repo_adapters
    from training.train import FAULT_ENV

    home = tmp_path / "home"
    repo = make_repo(tmp_path / "repo", n=14)
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts)
    killed = _cli(["learn", str(repo), "--nice", "0", *_sets(tiny_model, shipped, install="always")], home,
                  {FAULT_ENV: "1"})
    assert killed.returncode != 0
    assert not (home / "adapters").exists() or not any((home / "adapters").iterdir())

    done = _cli(["learn", str(repo), "--json", "--nice", "0", *_sets(tiny_model, shipped, install="always")], home)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(x) for x in done.stdout.splitlines() if x.startswith('{"learn"')]
    stages = [x["learn"] for x in lines]
    assert stages[0] == "collect" and "train" in stages and stages[-1] == "result"
    result = lines[-1]
    assert "| line completion exact match" in result["table"]
    installed = Path(result["installed"])
    assert installed.parent == home / "adapters" and (installed / "adapter_model.safetensors").is_file()
    meta = json.loads((installed / "learn.json").read_text())
    assert meta["base_model_sha256"] == repo_adapters.weights_hash(tiny_model)
    assert meta["shipped_adapter_sha256"] == repo_adapters.adapter_hash(shipped)
    assert meta["heldout_files"] and meta["won"] in (True, False)
    # Nothing was written inside the repository.
    after = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if ".git" not in p.parts)
    assert after == before
    # Another base model (a model update) is detected; the same one is not.
    now = repo_adapters.Provenance(meta["base_model_sha256"], meta["shipped_adapter_sha256"])
    assert repo_adapters.incompatible(meta, now) is None
    assert "another base model" in repo_adapters.incompatible(meta, repo_adapters.Provenance("0" * 64, now.shipped_adapter_sha256))
    assert "shipped adapter" in repo_adapters.incompatible(meta, repo_adapters.Provenance(now.base_model_sha256, "1"))

    listed = _cli(["model", "list"], home)
    assert installed.name in listed.stdout and str(repo.resolve()) in listed.stdout
    removed = _cli(["model", "remove", installed.name], home)
    assert removed.returncode == 0 and not installed.exists()


def test_a_win_needs_two_more_exact_holes_and_no_real_loss_of_similarity():
    from training.learn.check import wins

    def result(exact: int, es: float = 0.5, n: int = 40) -> dict:
        task = {"exact_match_no_boilerplate": exact / n, "n_no_boilerplate": n, "edit_similarity": es}
        return {"line": task, "single": dict(task)}

    assert not wins(result(12), result(12))
    assert not wins(result(12), result(12, es=0.6))  # similarity alone is no win
    assert wins(result(12), result(13))  # one more in each task: two in all
    assert not wins(result(12), result(13), min_gain=3)
    assert not wins(result(12, es=0.6), result(14, es=0.55))  # more exact, but 5 points less similar
