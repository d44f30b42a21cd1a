"""Paired comparisons of candidates on the same samples: the difference of each per-sample metric
against the first candidate (the reference), with a paired bootstrap 95% interval.

This is what the shipping rule reads (training/MODEL_CARD.md): a candidate is "clearly ahead"
on a metric when the whole interval is above zero, and "within" when it contains zero. Samples
are matched by id, so only samples both candidates were asked count.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# (task, label, per-sample value from a sample dict or None to skip it)
METRICS = [
    ("line", "Line completion EM", lambda s: float(s["exact_match"])),
    ("line", "Line completion edit similarity", lambda s: float(s["edit_similarity"])),
    ("infill", "Single-line infilling EM", lambda s: float(s["exact_match"]) if s.get("kind") == "single" else None),
    ("infill", "Single-line infilling edit similarity",
     lambda s: float(s["edit_similarity"]) if s.get("kind") == "single" else None),
    ("infill", "Single-line infilling, repo tests pass",
     lambda s: float(bool(s["tests"])) if s.get("kind") == "single" and s.get("tests") is not None else None),
    ("infill", "Multi-line infilling EM", lambda s: float(s["exact_match"]) if s.get("kind") == "multi" else None),
    ("infill", "Multi-line infilling edit similarity",
     lambda s: float(s["edit_similarity"]) if s.get("kind") == "multi" else None),
    ("infill", "Multi-line infilling, repo tests pass",
     lambda s: float(bool(s["tests"])) if s.get("kind") == "multi" and s.get("tests") is not None else None),
    ("humaneval", "HumanEval pass@1", lambda s: float(s["passed"])),
    ("translate", "Python→JavaScript, all asserts pass", lambda s: float(s["all_passed"])),
    ("crossfile", "Cross-file EM, without context",
     lambda s: float(s["plain"]["exact_match"]) if s.get("split") == "test" else None),
    ("crossfile", "Cross-file EM, with context",
     lambda s: float(s["context"]["exact_match"]) if s.get("split") == "test" else None),
]


def sample_id(s: dict) -> str:
    return str(s.get("id") or s.get("task_id"))


def bootstrap(diffs: list[float], iterations: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """(mean, 2.5th, 97.5th percentile) of the mean of paired differences, resampled."""
    n = len(diffs)
    mean = sum(diffs) / n
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(iterations))
    return mean, means[int(0.025 * iterations)], means[min(iterations - 1, int(0.975 * iterations))]


def compare(reference: dict[str, list[dict]], candidate: dict[str, list[dict]], iterations: int = 10000) -> list[dict]:
    """Rows for every metric both ran: task samples by task name for each side."""
    rows = []
    for task, label, value in METRICS:
        ref = {sample_id(s): value(s) for s in reference.get(task, [])}
        new = {sample_id(s): value(s) for s in candidate.get(task, [])}
        pairs = [(ref[k], new[k]) for k in ref.keys() & new.keys() if ref[k] is not None and new[k] is not None]
        if not pairs:
            continue
        mean, lo, hi = bootstrap([b - a for a, b in pairs], iterations)
        rows.append({"task": task, "metric": label, "n": len(pairs), "reference": sum(a for a, _ in pairs) / len(pairs),
                     "candidate": sum(b for _, b in pairs) / len(pairs), "diff": mean, "lo": lo, "hi": hi,
                     "verdict": "ahead" if lo > 0 else "behind" if hi < 0 else "within"})
    return rows


def load_samples(out: Path, name: str) -> dict[str, list[dict]]:
    found = {}
    for f in sorted((out / "samples" / name).glob("*.jsonl")):
        found[f.stem] = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
    return found


def compare_report(report: dict, out: Path) -> dict[str, list[dict]]:
    """Every candidate against the first one, from the samples written beside the report, or beside
    the earlier report a `--compare`d candidate comes from (matched by sample id, so an earlier run
    with other samples pairs only what both were asked)."""
    def samples(c: dict) -> dict[str, list[dict]]:
        return load_samples(Path(c["from"]).parent, c.get("original_name", c["name"])) if c.get("from") \
            else load_samples(out, c["name"])

    cands = [(c["name"], s) for c in report["candidates"] if (s := samples(c))]
    if len(cands) < 2:
        return {}
    ref = cands[0][1]
    return {name: compare(ref, found) for name, found in cands[1:]}


def markdown(paired: dict[str, list[dict]], reference: str) -> list[str]:
    lines = []
    for name, rows in paired.items():
        if not rows:
            continue
        lines += [f"## {name} against {reference} (paired bootstrap, 95%)", "",
                  "| metric | n | " + reference + " | " + name + " | difference [95% interval] | |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            lines.append(f"| {r['metric']} | {r['n']} | {100 * r['reference']:.1f}% | {100 * r['candidate']:.1f}% | "
                         f"{100 * r['diff']:+.1f} [{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}] | {r['verdict']} |")
        lines.append("")
    return lines
