"""pack: FIM tokens added, labels masked on prompts, split by repository, memory-mapped Arrow."""

from __future__ import annotations

import datasets
from transformers import AutoTokenizer

from training import pack
from training.config import PackConfig
from training.io import iter_records

from .pipeline import run_data_steps


def test_pack_splits_by_repository_and_masks_prompts(two_repos, tmp_path, tiny_tokenizer):
    reports = run_data_steps(two_repos, tmp_path, tiny_tokenizer, seq_len=64)
    splits = reports["pack"]["splits"]
    assert len(splits["train"]["repos"]) == 1 and len(splits["validation"]["repos"]) == 1
    assert not set(splits["train"]["repos"]) & set(splits["validation"]["repos"])
    tok = AutoTokenizer.from_pretrained(tmp_path / "pack" / "tokenizer")
    assert "<|wm_fim_pad|>" not in tiny_tokenizer.get_vocab()  # the caller's tokenizer is untouched
    for t in pack.FIM_TOKENS:
        (tid,) = tok(t, add_special_tokens=False)["input_ids"]  # one token each
        assert tid >= len(tiny_tokenizer)
    train = datasets.load_from_disk(str(tmp_path / "pack" / "train"))
    assert len(train) == splits["train"]["sequences"] > 0
    row = train[0]
    assert len(row["input_ids"]) == len(row["labels"]) == 64
    # Every trained label is the token itself; masked ones are prompts of chat pairs.
    assert all(lab in (-100, i) for i, lab in zip(row["input_ids"], row["labels"]))
    assert splits["train"]["trained_tokens"] < splits["train"]["tokens"]
    # The samples of one repository land in one split only.
    val_repo = splits["validation"]["repos"][0]
    val_samples = [s for s in iter_records(tmp_path / "annotate") if s["repo"] == val_repo]
    assert splits["validation"]["samples"] == len(val_samples)


def test_tokenized_fim_sample_matches_piecewise_engine_tokenization(tiny_tokenizer):
    import copy

    tok = copy.deepcopy(tiny_tokenizer)
    pack.add_fim_tokens(tok)
    segs = [["<|wm_fim_suffix|>", True], ["    return x\n", True], ["<|wm_fim_prefix|>", True],
            ["def f(x):\n", True], ["<|wm_fim_middle|>", True], ["    x += 1\n", True], ["<|endoftext|>", True]]
    ids, labels = pack.tokenize_sample(tok, segs)
    whole = tok("".join(s for s, _ in segs), add_special_tokens=False)["input_ids"]
    assert ids == whole == labels


def test_split_repos_is_deterministic_and_keeps_one_for_training():
    repos = [f"r{i}==1" for i in range(10)]
    val = pack.split_repos(repos, 0.2, [], seed=0)
    assert len(val) == 2 and val == pack.split_repos(list(reversed(repos)), 0.2, [], seed=0)
    assert pack.split_repos(["a==1", "b==1"], 0.9, [], 0) != {"a==1", "b==1"}
    assert pack.split_repos(repos, 0.1, ["r3==1"], 0) == {"r3==1"}


def test_keep_sets_the_mix_and_samples_never_straddle_sequences(two_repos, tmp_path, tiny_tokenizer):
    run_data_steps(two_repos, tmp_path, tiny_tokenizer, seq_len=64, plain_rate=1.0, fim_per_file=3)
    records = [r for r in iter_records(tmp_path / "annotate")]
    keep = {"plain": 0.0, "fim_spm": 0.5}
    report = pack.run(PackConfig(input=str(tmp_path / "annotate"), output=str(tmp_path / "mixed"), seq_len=1024,
                                 val_fraction=0.0, keep=keep, seed=7), tokenizer=tiny_tokenizer)
    kept = [r for r in records if pack.kept(r, keep, 7)]
    assert not any(r["kind"] == "plain" for r in kept)
    spm = [r for r in records if r["kind"] == "fim_spm"]
    assert 0 < sum(r in kept for r in spm) < len(spm)
    assert report["splits"]["train"]["samples"] == len(kept)
    tok = AutoTokenizer.from_pretrained(tmp_path / "mixed" / "tokenizer")
    pad = tok.convert_tokens_to_ids("<|wm_fim_pad|>")
    samples = {tuple(pack.tokenize_sample(tok, r["segments"])[0]) for r in kept}
    assert max(map(len, samples)) <= 1024
    rows = datasets.load_from_disk(str(tmp_path / "mixed" / "train"))
    found = 0
    for row in rows:
        ids, labels = row["input_ids"], row["labels"]
        end = len(ids)
        while end and ids[end - 1] == pad and labels[end - 1] == -100:
            end -= 1
        pos = 0
        while pos < end:  # the row is whole samples, one after another
            match = [s for s in samples if tuple(ids[pos:pos + len(s)]) == s]
            assert match, f"a sample is cut at token {pos} of a row"
            pos += max(map(len, match))
            found += 1
    assert found == len(kept)


def test_keep_shares_are_checked():
    import pytest

    from training.config import ConfigError, load_config

    assert load_config(PackConfig, None, {"keep": {"plain": "0.25"}}).keep == {"plain": 0.25}  # YAML's spelling
    with pytest.raises(ConfigError, match="keep.plain"):
        load_config(PackConfig, None, {"keep": {"plain": 1.5}})
    with pytest.raises(ConfigError, match="keep.plain: expected number"):
        load_config(PackConfig, None, {"keep": {"plain": "most"}})
