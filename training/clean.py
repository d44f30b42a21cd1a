"""`wingman clean`: filter, dedupe, redact and decontaminate the collected files, counting each drop.

Order: licence → binary → vendored → generated / compiled → long lines / minified → alphabetic ratio
→ Python syntax → exact duplicate → near-duplicate → HumanEval → held-out repositories → redaction.
Streams file by file. The exact hashes, the MinHash LSH index and the run's progress live in one
SQLite file beside the output (training/diskindex.py); only the benchmark and held-out n-gram
indexes (small) are in memory.

Units are the input's runs of one repository (collect writes a package's files together). After
each, the shards are fsynced and the unit is committed with everything it added to the index, so
`resume: true` continues a killed run from the last finished package.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import time
import warnings
from collections import Counter
from pathlib import Path

from training import filters, licenses
from training.collect import EXTENSIONS, _archive_members, canonical_name, heldout_names, language_of, read_manifest
from training.config import CleanConfig, StepError, to_dict
from training.decontam import NgramIndex, chunks, humaneval_items, humaneval_path, ngram_hashes
from training.diskindex import DiskIndex
from training.fetch import pip_download
from training.io import AppendShards, iter_records, peak_rss_mib, read_json, shards, text_hash, write_json

log = logging.getLogger(__name__)


def _add_heldout(index: NgramIndex, name: str, text: str, min_chunk_grams: int) -> None:
    index.add(name, text)
    for part, body in chunks(name, text):
        index.add(part, body, min_grams=min_chunk_grams)


def build_heldout_index(cfg: CleanConfig) -> NgramIndex:
    """Every held-out file, and each of its top-level definitions (Python) or 40-line blocks, as an
    item: a training file holding at least `heldout_threshold` of an item's n-grams is a copy."""
    index = NgramIndex(cfg.decontam_ngram, threshold=cfg.heldout_threshold, sample=cfg.heldout_sample)
    minimum = cfg.heldout_chunk_min_grams
    for src in cfg.heldout_sources:
        root = Path(src).expanduser()
        if shards(root):
            for rec in iter_records(root):
                _add_heldout(index, f"{rec.get('repo')}/{rec.get('path')}", rec.get("text", ""), minimum)
        else:
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix.lower() in EXTENSIONS:
                    _add_heldout(index, str(path), path.read_text(errors="replace"), minimum)
    if cfg.heldout_fetch and cfg.heldout and Path(cfg.heldout).exists():
        from model.paths import downloads_dir

        dest = Path(cfg.download_dir).expanduser() if cfg.download_dir else downloads_dir() / "sdists"
        for name, version in read_manifest(cfg.heldout):
            try:
                archive = pip_download(name, version, dest, 300)
            except Exception as exc:
                raise StepError(
                    f"cannot fetch held-out package {name}=={version} to decontaminate against ({exc}); "
                    "give its sources in `heldout_sources`, or set `heldout_fetch: false`") from exc
            for path, size, read in _archive_members(archive):
                if language_of(path) and size < 1_000_000:
                    _add_heldout(index, f"{name}=={version}/{path}", read().decode("utf-8", "replace"), minimum)
    return index


def python_syntax(path: str, text: str) -> str | None:
    """Python that does not parse (Python 2, templates): the instruction miners need an AST, and a
    model should not learn it as Python."""
    if not path.endswith((".py", ".pyi")):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "python_syntax"
    return None


def _units(cfg: CleanConfig, counts: Counter):
    """(unit number, repository, its records): the input's runs of one repository."""
    unit, repo, recs = -1, None, []
    for rec in iter_records(cfg.input, errors=counts):
        r = rec.get("repo")
        if r != repo or unit < 0:
            if recs:
                yield unit, repo, recs
            unit, repo, recs = unit + 1, r, []
        recs.append(rec)
    if recs:
        yield unit, repo, recs


def _fingerprint(cfg: CleanConfig) -> str:
    """What a resumed run must share with the run it continues: the config and the input."""
    conf = {k: v for k, v in to_dict(cfg).items() if k not in ("resume",)}
    inp = [(p.name, p.stat().st_size) for p in shards(cfg.input)]
    return hashlib.sha256(json.dumps([conf, inp], sort_keys=True, default=str).encode()).hexdigest()


class TokenCounter:
    """Tokens of the kept files, in batches (a fast tokenizer runs a batch on every core)."""

    def __init__(self, name: str):
        from training.annotate import load_tokenizer

        self.tok = load_tokenizer(name)

    def __call__(self, texts: list[str]) -> int:
        if not texts:
            return 0
        return sum(len(x) for x in self.tok(texts, add_special_tokens=False)["input_ids"])


def run(cfg: CleanConfig, tokenizer=None) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    counts: Counter = Counter()
    heldout_pkgs = heldout_names(cfg.heldout)
    he_path = humaneval_path(cfg.humaneval)
    humaneval = NgramIndex(cfg.decontam_ngram, threshold=0.5)
    if he_path:
        for name, text in humaneval_items(he_path):
            humaneval.add(name, text)
    heldout = build_heldout_index(cfg)
    t_index = time.monotonic() - t_start
    index = DiskIndex(out / "index.sqlite", cfg.near_dup_threshold, cfg.num_perm, cfg.shingle_size,
                      fresh=not cfg.resume)
    try:
        return _run(cfg, out, t_start, counts, heldout_pkgs, humaneval, heldout, t_index, index, tokenizer)
    except BaseException:
        index.abort()  # what a kill does: the unfinished package is not committed
        raise


def _run(cfg, out, t_start, counts, heldout_pkgs, humaneval, heldout, t_index, index, tokenizer) -> dict:
    fingerprint = _fingerprint(cfg)
    done = index.units()
    if done and index.get_meta("fingerprint") != fingerprint:
        index.close()
        raise StepError(f"{out} holds a clean run of another config or input; resume needs the same ones "
                        "(delete the output, or run without resume)")
    index.set_meta("fingerprint", fingerprint)
    for d in done:
        counts.update({k: v for k, v in d["counts"].items() if k != "_languages"})
    count_tokens = None
    if cfg.count_tokens:
        count_tokens = (lambda texts: sum(len(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"])
                        if texts else 0) if tokenizer is not None else TokenCounter(cfg.count_tokens)
    contaminated: list[dict] = read_json(out / "contaminated.json", []) if done else []
    languages: Counter = Counter()
    for d in done:
        languages.update(d["counts"].get("_languages", {}))
    files_this_run = 0
    t_loop = time.monotonic()
    with AppendShards(out, "data", cfg.shard_bytes, tuple(done[-1]["position"]) if done else None) as writer:
        input_errors: Counter = Counter()
        for unit, repo, recs in _units(cfg, input_errors):
            if unit < len(done):
                if done[unit]["repo"] != repo:
                    raise StepError(f"the input changed since the run being resumed (unit {unit}: {repo!r})")
                continue
            c: Counter = Counter()
            langs: Counter = Counter()
            kept_texts: list[str] = []
            for rec in recs:
                _clean_one(rec, cfg, c, heldout_pkgs, index, humaneval, heldout, contaminated, writer, langs,
                           kept_texts)
            files_this_run += len(recs)
            if count_tokens is not None:
                c["output_tokens"] += count_tokens(kept_texts)
            entry = dict(c)
            entry["_languages"] = dict(langs)
            index.commit_unit(unit, repo or "", writer.position(), entry)
            counts.update(c)
            languages.update(langs)
            if contaminated and len(contaminated) <= 1000:
                write_json(out / "contaminated.json", contaminated)
        counts.update(input_errors)
    counts.pop("_languages", None)
    wall = time.monotonic() - t_start
    loop = time.monotonic() - t_loop
    near_stats = {"bands": index.bands, "rows": index.rows, "index_mib": index.size_mib()}
    index.close()
    collect_report = read_json(Path(cfg.input) / "report.json", {})
    report = {
        "step": "clean", "counts": dict(counts),
        "decontamination": {"humaneval_items": len(humaneval), "humaneval_too_short": humaneval.too_short,
                            "heldout_items": len(heldout), "heldout_too_short": heldout.too_short,
                            "heldout_threshold": cfg.heldout_threshold, "ngram": cfg.decontam_ngram,
                            "contaminated": contaminated[:1000]},
        "near_dedupe": {"threshold": cfg.near_dup_threshold, "num_perm": cfg.num_perm,
                        "shingle": cfg.shingle_size, **near_stats},
        "timing": {"wall_s": round(wall, 1), "index_build_s": round(t_index, 1),
                   "units_resumed": len(done), "files_this_run": files_this_run,
                   "files_per_s": round(files_this_run / loop, 1) if loop > 0 else None,
                   "peak_rss_mib": peak_rss_mib()},
        "languages": dict(languages), "packages": collect_report.get("packages", []),
        "upstream": {"collect": collect_report.get("counts", {})},
        "config": to_dict(cfg),
    }
    write_json(out / "report.json", report)
    return report


def _clean_one(rec, cfg, counts, heldout_pkgs, index, humaneval, heldout, contaminated, writer, languages,
               kept_texts) -> None:
    def drop(reason: str) -> None:
        counts[f"dropped_{reason}"] += 1
        counts[f"dropped_{reason}_bytes"] += len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else 0

    counts["input"] += 1
    text, path = rec.get("text"), rec.get("path", "")
    if not isinstance(text, str):
        drop("malformed")
        return
    counts["input_bytes"] += len(text.encode("utf-8", "surrogatepass"))
    if canonical_name(rec.get("package", "")) in heldout_pkgs:
        return drop("heldout_package")
    if not licenses.allowed(rec.get("license", "unknown"), cfg.licenses, cfg.allow_unknown_license):
        return drop("license")
    reason = (filters.binary(text) or filters.vendored(path) or filters.generated(path, text)
              or (filters.compiled(path, text) if cfg.drop_compiled else None)
              or filters.long_lines(text, cfg.max_line_length, cfg.max_mean_line_length)
              or filters.alpha_ratio(text, cfg.min_alpha_ratio)
              or (python_syntax(path, text) if cfg.parse_python else None))
    if reason:
        return drop(reason)
    if cfg.exact_dedupe and index.seen_exact(text_hash(text)):
        return drop("exact_duplicate")
    if cfg.near_dedupe and index.near_duplicate(f"{rec.get('repo')}/{path}", text):
        return drop("near_duplicate")
    grams = ngram_hashes(text, cfg.decontam_ngram)  # once, for both indexes
    hit = humaneval.match(text, grams)
    if hit:
        contaminated.append({"repo": rec.get("repo"), "path": path, "matches": hit})
        return drop("humaneval")
    hit = heldout.match(text, grams)
    if hit:
        contaminated.append({"repo": rec.get("repo"), "path": path, "matches": hit})
        return drop("heldout_overlap")
    if cfg.redact_secrets:
        text, k = filters.redact_secrets(text)
        counts["redacted_secrets"] += k
        counts["files_with_secrets"] += bool(k)
    if cfg.redact_emails:
        text, k = filters.redact_emails(text)
        counts["redacted_emails"] += k
    rec["text"] = text
    writer.write(rec)
    counts["output"] += 1
    counts["output_bytes"] += len(text.encode("utf-8", "surrogatepass"))
    languages[rec.get("language")] += 1
    kept_texts.append(text)
