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
import time
from collections import Counter
from pathlib import Path

from model.fim import WINGMAN, WINGMAN_PAD
from training.config import PackConfig, resolve_base_model, to_dict
from training.io import iter_records, peak_rss_mib, read_json, write_json

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


def assign_splits(repos: list[str], val_fraction: float, heldout_fraction: float, val_repos: list[str],
                  heldout_repos: list[str], seed: int) -> dict[str, str]:
    """Repository → train | validation | heldout, by package, never by file. Held-out is chosen
    first (forced ones plus the lowest-hashing share, under its own seed), then validation from the
    rest, as split_repos does."""
    held = {r for r in repos if r in set(heldout_repos)}
    rest = sorted((r for r in repos if r not in held),
                  key=lambda r: hashlib.sha256(f"heldout:{seed}:{r}".encode()).hexdigest())
    if heldout_fraction > 0 and len(repos) >= 3:
        k = max(1, math.floor(heldout_fraction * len(repos) + 0.5)) - len(held)
        held.update(rest[:max(0, min(k, len(rest) - 2))])
    others = [r for r in repos if r not in held]
    val = split_repos(others, val_fraction, [r for r in val_repos if r not in held], seed)
    return {r: "heldout" if r in held else "validation" if r in val else "train" for r in repos}


def tokenize_batch(tok, samples: list) -> list[tuple[list[int], list[int]]]:
    """tokenize_sample for many samples in one tokenizer call (a fast tokenizer batches in Rust)."""
    texts = [text for segments in samples for text, _ in segments]
    pieces = tok(texts, add_special_tokens=False)["input_ids"] if texts else []
    out, i = [], 0
    for segments in samples:
        ids, labels = [], []
        for _, train in segments:
            piece = pieces[i]
            i += 1
            ids.extend(piece)
            labels.extend(piece if train else [-100] * len(piece))
        out.append((ids, labels))
    return out


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


class Packer:
    """Samples → rows of exactly seq_len tokens (see `packed`)."""

    def __init__(self, seq_len: int, pad: int, counts: Counter, split_samples: bool, open_sequences: int):
        self.seq_len, self.pad, self.counts = seq_len, pad, counts
        self.split_samples, self.open_sequences = split_samples, open_sequences
        self.bins: list[tuple[list[int], list[int]]] = []
        self.buf_ids: list[int] = []
        self.buf_labels: list[int] = []

    def _flush(self, i: int) -> dict:
        ids, labels = self.bins.pop(i)
        n = self.seq_len - len(ids)
        self.counts["sequences"] += 1
        self.counts["pad_tokens"] += n
        return {"input_ids": ids + [self.pad] * n, "labels": labels + [-100] * n}

    def add(self, ids: list[int], labels: list[int]):
        seq_len, counts = self.seq_len, self.counts
        counts["samples"] += 1
        counts["tokens"] += len(ids)
        counts["trained_tokens"] += sum(1 for x in labels if x != -100)
        if not self.split_samples:
            while len(ids) > seq_len:  # one oversized sample: whole sequences of its own
                yield {"input_ids": ids[:seq_len], "labels": labels[:seq_len]}
                counts["sequences"] += 1
                counts["oversized_samples_cut"] += 1
                ids, labels = ids[seq_len:], labels[seq_len:]
            for i, (b_ids, b_labels) in enumerate(self.bins):
                if len(b_ids) + len(ids) <= seq_len:
                    b_ids.extend(ids)
                    b_labels.extend(labels)
                    if len(b_ids) == seq_len:
                        yield self._flush(i)
                    break
            else:
                if len(self.bins) >= self.open_sequences:
                    yield self._flush(max(range(len(self.bins)), key=lambda i: len(self.bins[i][0])))
                self.bins.append((list(ids), list(labels)))
            return
        self.buf_ids.extend(ids)
        self.buf_labels.extend(labels)
        while len(self.buf_ids) >= seq_len:
            yield {"input_ids": self.buf_ids[:seq_len], "labels": self.buf_labels[:seq_len]}
            counts["sequences"] += 1
            del self.buf_ids[:seq_len], self.buf_labels[:seq_len]

    def finish(self):
        counts, seq_len = self.counts, self.seq_len
        while self.bins:
            yield self._flush(0)
        if self.buf_ids and counts["sequences"] == 0:  # a tiny corpus: pad the one short sequence
            n = seq_len - len(self.buf_ids)
            yield {"input_ids": self.buf_ids + [self.pad] * n, "labels": self.buf_labels + [-100] * n}
            counts["sequences"] += 1
        counts["dropped_tail_tokens"] += len(self.buf_ids) if counts["sequences"] else 0


def _records(input_dir: str, extra: list[str], train, errors: Counter):
    """The input's records, then the extra directories' records whose package `train(repo)` says
    is in the train split (the others are counted, never packed)."""
    yield from iter_records(input_dir, errors=errors)
    for d in extra:
        for rec in iter_records(d, errors=errors):
            if train(rec.get("repo")):
                errors["extra_samples"] += 1
                yield rec
            else:
                errors["extra_samples_not_train_dropped"] += 1


def _batches(input_dir: str, counts_of, keep: dict | None, seed: int, batch: int = 256, extra: list[str] = (),
             train=lambda repo: False):
    """(split key, records) batches of the annotate output that pass `keep`; counts_of(rec) gives
    the record's Counter, or None to skip it."""
    pending: list[tuple[dict, Counter]] = []
    errors: Counter = Counter()
    for rec in _records(input_dir, list(extra), train, errors):
        c = counts_of(rec)
        if c is None:
            continue
        if keep and not kept(rec, keep, seed):
            c["skipped_by_keep"] += 1
            continue
        segs = rec.get("segments")
        if not isinstance(segs, list) or not all(isinstance(x, (list, tuple)) and len(x) == 2
                                                 and isinstance(x[0], str) for x in segs):
            c["malformed"] += 1
            continue
        pending.append((rec, c))
        if len(pending) >= batch:
            yield pending
            pending = []
    if pending:
        yield pending
    yield errors


def packed(input_dir: str, tok, seq_len: int, repos: set[str], counts: Counter, keep: dict | None = None,
           seed: int = 0, split_samples: bool = True, open_sequences: int = 8, extra: list[str] = ()):
    """Yield {'input_ids', 'labels'} rows of exactly seq_len tokens.

    split_samples: concatenate and cut (the tail is dropped). Otherwise a sample goes whole into the
    first open sequence with room; with none, the fullest is padded (labels -100) and yielded. A
    sample longer than seq_len is cut into seq_len pieces of its own."""
    packer = Packer(seq_len, tok.convert_tokens_to_ids(WINGMAN_PAD), counts, split_samples, open_sequences)
    for batch in _batches(input_dir, lambda rec: counts if rec.get("repo") in repos else None, keep, seed,
                          extra=extra, train=lambda repo: repo in repos):
        if isinstance(batch, Counter):
            counts.update(batch)
            continue
        for ids, labels in tokenize_batch(tok, [rec["segments"] for rec, _ in batch]):
            yield from packer.add(ids, labels)
    yield from packer.finish()


def _pack_compact(cfg: PackConfig, tok, splits: dict[str, str], out: Path) -> dict:
    """One pass over the samples, each split's rows straight into its compact writer."""
    from training.packed import CompactWriter

    pad = tok.convert_tokens_to_ids(WINGMAN_PAD)
    names = sorted(set(splits.values()) | {"train", "validation"})
    counts = {name: Counter() for name in names}
    packers = {name: Packer(cfg.seq_len, pad, counts[name], cfg.split_samples, cfg.open_sequences) for name in names}
    writers = {}
    for name in names:
        shutil.rmtree(out / name, ignore_errors=True)
        writers[name] = CompactWriter(out / name, cfg.seq_len, len(tok))
    kinds: dict[str, Counter] = {name: Counter() for name in names}
    for batch in _batches(cfg.input, lambda rec: counts[splits[rec["repo"]]] if rec.get("repo") in splits else None,
                          cfg.keep, cfg.seed, extra=cfg.extra_inputs, train=lambda repo: splits.get(repo) == "train"):
        if isinstance(batch, Counter):
            counts["train"].update(batch)
            continue
        for (rec, _), (ids, labels) in zip(batch, tokenize_batch(tok, [rec["segments"] for rec, _ in batch])):
            split = splits[rec["repo"]]
            k = kinds[split]
            k[f"{rec.get('kind')}:samples"] += 1
            k[f"{rec.get('kind')}:trained_tokens"] += sum(1 for x in labels if x != -100)
            for row in packers[split].add(ids, labels):
                writers[split].write(row["input_ids"], row["labels"])
    stats = {}
    for name in names:
        for row in packers[name].finish():
            writers[name].write(row["input_ids"], row["labels"])
        meta = writers[name].close()
        stats[name] = {"repos": sorted(r for r, s in splits.items() if s == name), **dict(counts[name]),
                       "kinds": dict(kinds[name]), "compact": meta}
    return stats


def run(cfg: PackConfig, tokenizer=None) -> dict:
    import datasets
    from transformers import AutoTokenizer

    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    # A copy: adding the FIM tokens must not change the caller's tokenizer.
    tok = copy.deepcopy(tokenizer) if tokenizer is not None else AutoTokenizer.from_pretrained(
        resolve_base_model(cfg.tokenizer))
    fim_ids = add_fim_tokens(tok)
    t0 = time.monotonic()
    repos = sorted({rec["repo"] for rec in iter_records(cfg.input) if "repo" in rec})
    splits = assign_splits(repos, cfg.val_fraction, cfg.heldout_fraction, cfg.val_repos, cfg.heldout_repos, cfg.seed)
    if cfg.format == "compact":
        stats = _pack_compact(cfg, tok, splits, out)
        return _finish(cfg, tok, out, fim_ids, stats, t0)
    val = {r for r, split in splits.items() if split == "validation"}
    held = {r for r, split in splits.items() if split == "heldout"}
    features = datasets.Features({"input_ids": datasets.Sequence(datasets.Value("int32")),
                                  "labels": datasets.Sequence(datasets.Value("int32"))})
    cache = out / ".cache"
    shutil.rmtree(cache, ignore_errors=True)
    stats = {}
    for split, names in (("train", set(repos) - val - held), ("validation", val), ("heldout", held)):
        if split == "heldout" and not names:
            continue
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
                                "split_samples": cfg.split_samples, "open_sequences": cfg.open_sequences,
                                "extra": cfg.extra_inputs if split == "train" else []})
            except ValueError:  # datasets refuses a generator that yields nothing
                ds = None
        if ds is None:
            ds = datasets.Dataset.from_dict({"input_ids": [], "labels": []}, features=features)
        ds.save_to_disk(str(target))
        del ds
        stats[split] = {"repos": sorted(names), **dict(counts)}
    shutil.rmtree(cache, ignore_errors=True)
    return _finish(cfg, tok, out, fim_ids, stats, t0)


def _finish(cfg: PackConfig, tok, out: Path, fim_ids: list[int], stats: dict, t0: float) -> dict:
    tok.save_pretrained(out / "tokenizer")
    upstream = read_json(Path(cfg.input) / "report.json", {})
    wall = time.monotonic() - t0
    samples = sum(v.get("samples", 0) for v in stats.values())
    report = {"step": "pack", "seq_len": cfg.seq_len, "format": cfg.format,
              "fim_token_ids": dict(zip(FIM_TOKENS, fim_ids)),
              "timing": {"wall_s": round(wall, 1), "samples_per_s": round(samples / wall, 1) if wall else None,
                         "peak_rss_mib": peak_rss_mib()},
              "vocab_size": len(tok), "splits": stats, "packages": upstream.get("packages", []),
              "languages": upstream.get("languages", {}),
              "upstream": {**upstream.get("upstream", {}), "annotate": upstream.get("counts", {})},
              "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
