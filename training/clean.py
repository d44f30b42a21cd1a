"""`wingman clean`: filter, dedupe, redact and decontaminate the collected files, counting each drop.

Order: licence → binary → vendored → generated → long lines / minified → alphabetic ratio → exact
duplicate → near-duplicate → HumanEval → held-out repositories → redaction. Streams file by file;
only hashes, MinHash signatures and the benchmark n-gram index stay in memory.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from training import filters, licenses
from training.collect import (EXTENSIONS, _archive_members, canonical_name, heldout_names, language_of,
                              pip_download, read_manifest)
from training.config import CleanConfig, StepError, to_dict
from training.decontam import NearDuplicates, NgramIndex, humaneval_items, humaneval_path
from training.io import ShardWriter, iter_records, read_json, shards, text_hash, write_json

log = logging.getLogger(__name__)


def build_heldout_index(cfg: CleanConfig) -> NgramIndex:
    index = NgramIndex(cfg.decontam_ngram, threshold=0.5, sample=4)
    for src in cfg.heldout_sources:
        root = Path(src).expanduser()
        if shards(root):
            for rec in iter_records(root):
                index.add(f"{rec.get('repo')}/{rec.get('path')}", rec.get("text", ""))
        else:
            for path in sorted(root.rglob("*")):
                if path.is_file() and path.suffix.lower() in EXTENSIONS:
                    index.add(str(path), path.read_text(errors="replace"))
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
                    index.add(f"{name}=={version}/{path}", read().decode("utf-8", "replace"))
    return index


def run(cfg: CleanConfig) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    heldout_pkgs = heldout_names(cfg.heldout)
    he_path = humaneval_path(cfg.humaneval)
    humaneval = NgramIndex(cfg.decontam_ngram, threshold=0.5)
    if he_path:
        for name, text in humaneval_items(he_path):
            humaneval.add(name, text)
    heldout = build_heldout_index(cfg)
    exact: set[str] = set()
    near = NearDuplicates(cfg.near_dup_threshold, cfg.num_perm, cfg.shingle_size) if cfg.near_dedupe else None
    contaminated: list[dict] = []
    languages: Counter = Counter()

    def drop(reason: str) -> None:
        counts[f"dropped_{reason}"] += 1

    with ShardWriter(out, "data", cfg.shard_bytes) as writer:
        for rec in iter_records(cfg.input, errors=counts):
            counts["input"] += 1
            text, path = rec.get("text"), rec.get("path", "")
            if not isinstance(text, str):
                drop("malformed")
                continue
            if canonical_name(rec.get("package", "")) in heldout_pkgs:
                drop("heldout_package")
                continue
            if not licenses.allowed(rec.get("license", "unknown"), cfg.licenses, cfg.allow_unknown_license):
                drop("license")
                continue
            reason = (filters.binary(text) or filters.vendored(path) or filters.generated(path, text)
                      or filters.long_lines(text, cfg.max_line_length, cfg.max_mean_line_length)
                      or filters.alpha_ratio(text, cfg.min_alpha_ratio))
            if reason:
                drop(reason)
                continue
            if cfg.exact_dedupe:
                h = text_hash(text)
                if h in exact:
                    drop("exact_duplicate")
                    continue
                exact.add(h)
            if near is not None and near.seen(str(counts["input"]), text):
                drop("near_duplicate")
                continue
            hit = humaneval.match(text)
            if hit:
                drop("humaneval")
                contaminated.append({"repo": rec.get("repo"), "path": path, "matches": hit})
                continue
            hit = heldout.match(text)
            if hit:
                drop("heldout_overlap")
                contaminated.append({"repo": rec.get("repo"), "path": path, "matches": hit})
                continue
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
            languages[rec.get("language")] += 1
    collect_report = read_json(Path(cfg.input) / "report.json", {})
    report = {
        "step": "clean", "counts": dict(counts),
        "decontamination": {"humaneval_items": len(humaneval), "humaneval_too_short": humaneval.too_short,
                            "heldout_files": len(heldout), "contaminated": contaminated[:1000]},
        "languages": dict(languages), "packages": collect_report.get("packages", []), "upstream": {"collect": collect_report.get("counts", {})},
        "config": to_dict(cfg),
    }
    write_json(out / "report.json", report)
    return report
