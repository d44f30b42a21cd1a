"""`wingman pack`: samples → tokenized, packed sequences (Hugging Face `datasets`, Arrow on disk).

The tokenizer gets Wingman's four FIM tokens as special tokens and is saved beside the data, so
training uses exactly these ids. Samples are concatenated and cut into `seq_len` sequences with
`input_ids` and `labels` (-100 where a segment is not trained on, e.g. a chat prompt). Repositories,
never files, are split into train and validation. `Dataset.from_generator` writes Arrow in batches,
so memory stays bounded; training memory-maps the result.
"""

from __future__ import annotations

import copy
import hashlib
import math
import shutil
from collections import Counter
from pathlib import Path

from model.fim import WINGMAN, WINGMAN_PAD
from training.config import PackConfig, resolve_base_model, to_dict
from training.io import iter_records, read_json, write_json

FIM_TOKENS = [*WINGMAN.special_tokens, WINGMAN_PAD]


def add_fim_tokens(tokenizer) -> list[int]:
    """Add the FIM tokens (no-op if present); their ids."""
    missing = [t for t in FIM_TOKENS if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing}, replace_extra_special_tokens=False)
    return tokenizer.convert_tokens_to_ids(FIM_TOKENS)


def split_repos(repos: list[str], fraction: float, forced: list[str], seed: int) -> set[str]:
    """Validation repositories: the forced ones plus the lowest-hashing `fraction` (at least one when
    there are two or more repositories and fraction > 0)."""
    val = {r for r in repos if r in set(forced)}
    rest = sorted((r for r in repos if r not in val),
                  key=lambda r: hashlib.sha256(f"{seed}:{r}".encode()).hexdigest())
    if fraction > 0 and len(repos) >= 2:
        k = max(1, math.floor(fraction * len(repos) + 0.5)) - len(val)
        val.update(rest[:max(0, min(k, len(rest) - 1))])
    return val


def tokenize_sample(tok, segments) -> tuple[list[int], list[int]]:
    ids, labels = [], []
    for text, train in segments:
        piece = tok(text, add_special_tokens=False)["input_ids"]
        ids.extend(piece)
        labels.extend(piece if train else [-100] * len(piece))
    return ids, labels


def kept(rec: dict, keep: dict[str, float], seed: int) -> bool:
    """A seeded, order-free coin per sample: the same samples survive whatever the shard layout."""
    share = keep.get(rec.get("kind", ""), 1.0)
    if share >= 1:
        return True
    texts = [seg[0] for seg in rec.get("segments") or [] if isinstance(seg, (list, tuple)) and seg]
    key = f"{seed}:{rec.get('kind')}:{rec.get('repo')}:{rec.get('path')}:{texts!r}"  # not the loss flags
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def packed(input_dir: str, tok, seq_len: int, repos: set[str], counts: Counter, keep: dict | None = None,
           seed: int = 0, split_samples: bool = True, open_sequences: int = 8):
    """Yield {'input_ids', 'labels'} rows of exactly seq_len tokens.

    split_samples: concatenate and cut (the tail is dropped). Otherwise a sample goes whole into the
    first open sequence with room; with none, the fullest is padded (labels -100) and yielded. A
    sample longer than seq_len is cut into seq_len pieces of its own."""
    pad = tok.convert_tokens_to_ids(WINGMAN_PAD)
    bins: list[tuple[list[int], list[int]]] = []

    def flush(i: int):
        ids, labels = bins.pop(i)
        n = seq_len - len(ids)
        counts["sequences"] += 1
        counts["pad_tokens"] += n
        return {"input_ids": ids + [pad] * n, "labels": labels + [-100] * n}

    buf_ids: list[int] = []
    buf_labels: list[int] = []
    for rec in iter_records(input_dir, errors=counts):
        if rec.get("repo") not in repos:
            continue
        if keep and not kept(rec, keep, seed):
            counts["skipped_by_keep"] += 1
            continue
        try:
            ids, labels = tokenize_sample(tok, rec["segments"])
        except (KeyError, TypeError, ValueError):
            counts["malformed"] += 1
            continue
        counts["samples"] += 1
        counts["tokens"] += len(ids)
        counts["trained_tokens"] += sum(1 for x in labels if x != -100)
        if not split_samples:
            while len(ids) > seq_len:  # one oversized sample: whole sequences of its own
                yield {"input_ids": ids[:seq_len], "labels": labels[:seq_len]}
                counts["sequences"] += 1
                ids, labels = ids[seq_len:], labels[seq_len:]
            for i, (b_ids, b_labels) in enumerate(bins):
                if len(b_ids) + len(ids) <= seq_len:
                    b_ids.extend(ids)
                    b_labels.extend(labels)
                    if len(b_ids) == seq_len:
                        yield flush(i)
                    break
            else:
                if len(bins) >= open_sequences:
                    yield flush(max(range(len(bins)), key=lambda i: len(bins[i][0])))
                bins.append((list(ids), list(labels)))
            continue
        buf_ids.extend(ids)
        buf_labels.extend(labels)
        while len(buf_ids) >= seq_len:
            yield {"input_ids": buf_ids[:seq_len], "labels": buf_labels[:seq_len]}
            counts["sequences"] += 1
            del buf_ids[:seq_len], buf_labels[:seq_len]
    while bins:
        yield flush(0)
    if buf_ids and counts["sequences"] == 0:  # a tiny corpus: pad the one short sequence
        n = seq_len - len(buf_ids)
        yield {"input_ids": buf_ids + [pad] * n, "labels": buf_labels + [-100] * n}
        counts["sequences"] += 1
    counts["dropped_tail_tokens"] += len(buf_ids) if counts["sequences"] else 0


def run(cfg: PackConfig, tokenizer=None) -> dict:
    import datasets
    from transformers import AutoTokenizer

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    # A copy: adding the FIM tokens must not change the caller's tokenizer.
    tok = copy.deepcopy(tokenizer) if tokenizer is not None else AutoTokenizer.from_pretrained(
        resolve_base_model(cfg.tokenizer))
    fim_ids = add_fim_tokens(tok)
    repos = sorted({rec["repo"] for rec in iter_records(cfg.input) if "repo" in rec})
    val = split_repos(repos, cfg.val_fraction, cfg.val_repos, cfg.seed)
    features = datasets.Features({"input_ids": datasets.Sequence(datasets.Value("int32")),
                                  "labels": datasets.Sequence(datasets.Value("int32"))})
    cache = out / ".cache"
    shutil.rmtree(cache, ignore_errors=True)
    stats = {}
    for split, names in (("train", set(repos) - val), ("validation", val)):
        counts: Counter = Counter()
        target = out / split
        shutil.rmtree(target, ignore_errors=True)
        ds = None
        if names:
            try:
                ds = datasets.Dataset.from_generator(
                    packed, features=features, cache_dir=str(cache), keep_in_memory=False,
                    gen_kwargs={"input_dir": cfg.input, "tok": tok, "seq_len": cfg.seq_len, "repos": names,
                                "counts": counts, "keep": cfg.keep, "seed": cfg.seed,
                                "split_samples": cfg.split_samples, "open_sequences": cfg.open_sequences})
            except ValueError:  # datasets refuses a generator that yields nothing
                ds = None
        if ds is None:
            ds = datasets.Dataset.from_dict({"input_ids": [], "labels": []}, features=features)
        ds.save_to_disk(str(target))
        del ds
        stats[split] = {"repos": sorted(names), **dict(counts)}
    shutil.rmtree(cache, ignore_errors=True)
    tok.save_pretrained(out / "tokenizer")
    upstream = read_json(Path(cfg.input) / "report.json", {})
    report = {"step": "pack", "seq_len": cfg.seq_len, "fim_token_ids": dict(zip(FIM_TOKENS, fim_ids)),
              "vocab_size": len(tok), "splits": stats, "packages": upstream.get("packages", []),
              "languages": upstream.get("languages", {}),
              "upstream": {**upstream.get("upstream", {}), "annotate": upstream.get("counts", {})},
              "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
