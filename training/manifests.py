"""Ranked corpus manifests from a registry's package list (a TSV with a download column).

No live download-rank service is reachable here, so the ranking comes from a list made on one day
(PyPI: `rank_among_15000_most_downloaded`; npm: `downloads_a_month`). Licences are not in those
lists: collect checks each package's own metadata (PKG-INFO / package.json) and skips, counting,
those that are not permissive.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from training.collect import canonical_name


def _rows(tsv: str | Path):
    csv.field_size_limit(sys.maxsize)
    with open(tsv, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        for row in reader:
            if len(row) >= len(header) - 1:
                yield dict(zip(header, row))


def ranked_pypi(tsv: str | Path, top: int, exclude: set[str]) -> list[tuple[str, str, int]]:
    """(name, version, rank) of the `top` best-ranked packages that have a version."""
    out = []
    for row in _rows(tsv):
        rank, version = row.get("rank_among_15000_most_downloaded", ""), row.get("version", "")
        if rank.isdigit() and version and canonical_name(row["name"]) not in exclude:
            out.append((row["name"], version, int(rank)))
    out.sort(key=lambda r: r[2])
    return out[:top]


def ranked_npm(tsv: str | Path, top: int, exclude: set[str]) -> list[tuple[str, str, int]]:
    """(name, version, downloads a month) of the `top` most downloaded packages."""
    out = []
    for row in _rows(tsv):
        downloads, version = row.get("downloads_a_month", ""), row.get("version", "")
        if downloads.isdigit() and version and row["name"].lower() not in exclude:
            out.append((row["name"], version, int(downloads)))
    out.sort(key=lambda r: (-r[2], r[0]))
    return out[:top]


def write_manifest(path: str | Path, entries: list[tuple[str, str, int]], header: str, what: str) -> None:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines += [f"{name}=={version}  # {what} {n}" for name, version, n in entries]
    Path(path).write_text("\n".join(lines) + "\n")
