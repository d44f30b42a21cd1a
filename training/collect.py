"""`wingman collect`: source files with provenance (package, version, licence, path) → JSONL shards.

Sources: a directory, a git repository (URL or local), the site-packages of an environment, and
packages fetched by name from a manifest of `name==version` lines: PyPI sdists
(`pip download --no-binary :all: --no-deps`) and npm registry tarballs (`npm pack`), a few
downloading ahead in threads (training/fetch.py). Files are read one at a time; a file that cannot
be read is counted and skipped. A package that does not download, does not open or is not
permissive (its own metadata against `licenses`) is skipped whole and counted, never fatal.

Each source package is a unit: its files are written, then a line in `progress.jsonl` records it
with its counts and the shards' position. `resume: true` skips the finished units and cuts the
shards back to the last one, so a killed run continues without redoing finished packages.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sysconfig
import tarfile
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from training import fetch, licenses
from training.config import CollectConfig, SourceConfig, to_dict
from training.io import AppendShards, Ledger, peak_rss_mib, write_json

log = logging.getLogger(__name__)

EXTENSIONS = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript",
    ".java": "java", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".go": "go", ".rs": "rust",
}
LICENSE_NAMES = re.compile(r"^(LICEN[CS]E|COPYING|COPYRIGHT)([.-].*)?$", re.IGNORECASE)
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".tox", ".nox", ".venv", ".mypy_cache", ".pytest_cache"}


def language_of(path: str) -> str | None:
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_manifest(path: str | Path) -> list[tuple[str, str]]:
    """`name==version` lines; blank lines and # comments ignored."""
    out = []
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise ValueError(f"{path}: expected name==version, got {line!r}")
        out.append((name.strip(), version.strip()))
    return out


def heldout_names(path: str | Path | None) -> set[str]:
    if not path or not Path(path).exists():
        return set()
    return {canonical_name(n) for n, _ in read_manifest(path)}


@dataclass
class Item:
    package: str
    version: str
    license: str
    path: str  # relative to the package root
    data: bytes | None  # None when it could not be read
    source: str


# ---------------------------------------------------------------- sources


def _license_from_dir(root: Path) -> str:
    for name in ("PKG-INFO", "METADATA"):
        if (root / name).is_file():
            found = licenses.from_metadata((root / name).read_text(errors="replace"))
            if found != "unknown":
                return found
    for child in sorted(root.iterdir()) if root.is_dir() else []:
        if child.is_file() and LICENSE_NAMES.match(child.name):
            found = licenses.normalize(child.read_text(errors="replace"))
            if found != "unknown":
                return found
    return "unknown"


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            yield Path(dirpath) / name


def _read(path: Path, limit: int) -> bytes | None:
    try:
        if path.stat().st_size > limit:
            return b""  # marker: too large, counted by the caller
        return path.read_bytes()
    except OSError:
        return None


def iter_dir(src: SourceConfig, root: Path, cfg: CollectConfig, version: str = "", name: str = "",
             files: list[str] | None = None) -> Iterator[Item]:
    package = src.package or name or root.name
    lic = licenses.normalize(src.license) if src.license else _license_from_dir(root)
    paths = (root / f for f in files) if files is not None else _walk(root)
    for path in paths:
        rel = path.relative_to(root).as_posix()
        if language_of(rel) not in cfg.languages:
            continue
        yield Item(package, src.version or version or "unknown", lic, rel, _read(path, cfg.max_file_bytes), src.kind)


def iter_git(src: SourceConfig, cfg: CollectConfig) -> Iterator[Item]:
    local = Path(src.path).expanduser()
    with tempfile.TemporaryDirectory(prefix="wingman-git-") as tmp:
        if not (local / ".git").exists():
            cmd = ["git", "clone", "--depth", "1", "--quiet"] + (["--branch", src.ref] if src.ref else [])
            subprocess.run(cmd + [src.path, tmp + "/repo"], check=True, timeout=cfg.pip_timeout_s)
            local = Path(tmp) / "repo"
        commit = subprocess.run(["git", "-C", str(local), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        listed = subprocess.run(["git", "-C", str(local), "ls-files", "-z"], capture_output=True, check=True).stdout
        files = sorted(f for f in listed.decode("utf-8", "replace").split("\0") if f)
        name = src.package or re.sub(r"\.git$", "", src.path.rstrip("/").rsplit("/", 1)[-1])
        yield from iter_dir(src, local, cfg, version=commit[:12], name=name, files=files)


def iter_site_packages(src: SourceConfig, cfg: CollectConfig) -> Iterator[Item]:
    root = Path(src.path).expanduser() if src.path else Path(sysconfig.get_paths()["purelib"])
    for dist in sorted(importlib.metadata.distributions(path=[str(root)]),
                       key=lambda d: canonical_name(d.metadata["Name"] or "")):
        name = dist.metadata["Name"] or "unknown"
        lic = licenses.normalize(src.license) if src.license else licenses.from_metadata(dist.metadata)
        for f in sorted(dist.files or [], key=str):
            rel = str(f)
            if ".dist-info/" in rel or rel.startswith("..") or language_of(rel) not in cfg.languages:
                continue
            yield Item(name, dist.version, lic, rel, _read(Path(dist.locate_file(f)), cfg.max_file_bytes), src.kind)


def _archive_members(archive: Path) -> Iterator[tuple[str, int, Callable[[], bytes]]]:
    """(path, size, read) for each regular file, streaming."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, info.file_size, (lambda i=info: z.read(i))
        return
    with tarfile.open(archive, "r|*") as t:
        for m in t:
            if m.isfile():
                yield m.name, m.size, (lambda m=m: t.extractfile(m).read())


class NotPermissive(Exception):
    """A package whose licence the allow-list refuses (skipped whole, counted)."""


def _gate(lic: str, cfg: CollectConfig) -> None:
    if cfg.licenses and not licenses.allowed(lic, cfg.licenses, cfg.allow_unknown_license):
        raise NotPermissive(lic)


def sdist_license(archive: Path) -> str:
    """PKG-INFO at the top level, else a LICENSE/COPYING file there. Small files only."""
    lic, text_lic = "unknown", "unknown"
    for path, size, read in _archive_members(archive):
        parts = path.split("/")
        if len(parts) == 2 and parts[1] == "PKG-INFO" and lic == "unknown":
            lic = licenses.from_metadata(read().decode("utf-8", "replace"))
        elif len(parts) == 2 and LICENSE_NAMES.match(parts[1]) and size < 200_000 and text_lic == "unknown":
            text_lic = licenses.normalize(read().decode("utf-8", "replace"))
    return lic if lic != "unknown" else text_lic


def npm_license(archive: Path) -> str:
    """package.json's `license` (or the old `licenses` list), else a LICENSE file at the root."""
    lic, text_lic = "unknown", "unknown"
    for path, size, read in _archive_members(archive):
        parts = path.split("/")
        if len(parts) == 2 and parts[1] == "package.json" and size < 2_000_000:
            try:
                meta = json.loads(read().decode("utf-8", "replace"))
            except ValueError:
                continue
            found = meta.get("license") if isinstance(meta, dict) else None
            if isinstance(found, dict):
                found = found.get("type")
            if not found and isinstance(meta, dict) and isinstance(meta.get("licenses"), list):
                types = [x.get("type") if isinstance(x, dict) else x for x in meta["licenses"]]
                found = " OR ".join(str(t) for t in types if t)
            if isinstance(found, str) and not found.upper().startswith("SEE LICEN"):
                lic = licenses.normalize(found)
        elif len(parts) == 2 and LICENSE_NAMES.match(parts[1]) and size < 200_000 and text_lic == "unknown":
            text_lic = licenses.normalize(read().decode("utf-8", "replace"))
    return lic if lic != "unknown" else text_lic


def iter_archive(archive: Path, name: str, version: str, src: SourceConfig, cfg: CollectConfig,
                 kind: str = "sdist") -> Iterator[Item]:
    """The archive's source files (paths without the top directory), streaming, after a first pass
    for the licence; raises NotPermissive before reading a file when the allow-list refuses it."""
    if src.license:
        lic = licenses.normalize(src.license)
    else:
        lic = npm_license(archive) if kind == "npm" else sdist_license(archive)
    _gate(lic, cfg)
    for path, size, read in _archive_members(archive):
        rel = path.split("/", 1)[1] if "/" in path else path
        if language_of(rel) not in cfg.languages:
            continue
        if size > cfg.max_file_bytes:
            data = b""
        else:
            try:
                data = read()
            except (OSError, tarfile.TarError, zipfile.BadZipFile):
                data = None
        yield Item(name, version, lic, rel, data, kind)


def iter_sdist_archive(archive: Path, name: str, version: str, src: SourceConfig, cfg: CollectConfig) -> Iterator[Item]:
    return iter_archive(archive, name, version, src, cfg, "sdist")


@dataclass
class Unit:
    """What a resumed collect skips or redoes whole: one package of a manifest, or one other source."""
    key: str
    package: str
    items: Callable[[], Iterator[Item]]


PACKAGE_ERRORS = (OSError, subprocess.SubprocessError, tarfile.TarError, zipfile.BadZipFile, EOFError, ValueError,
                  UnicodeError, NotPermissive)


def download_dir(cfg: CollectConfig, kind: str) -> Path:
    from model.paths import downloads_dir

    if cfg.download_dir:
        root = Path(cfg.download_dir).expanduser()
        return root / "npm" if kind == "npm" else root
    return downloads_dir() / ("npm" if kind == "npm" else "sdists")


def iter_units(src: SourceConfig, cfg: CollectConfig, skip: set[str] = frozenset(),
               done: set[str] = frozenset()) -> Iterator[Unit]:
    """The source's units in order. Packages in `done` or `skip` (held out) are never fetched; the
    others are downloaded ahead of the reader by a few threads."""
    if src.kind not in ("sdist", "npm"):
        yield Unit(f"{src.kind}:{src.path}", src.package, lambda: iter_source(src, cfg, Counter()))
        return
    items = read_manifest(src.manifest)
    dest = download_dir(cfg, src.kind)
    fetch.remove_partials(dest)
    todo = [(n, v) for n, v in items if f"{src.kind}:{n}=={v}" not in done and canonical_name(n) not in skip]
    position = {item: i for i, item in enumerate(todo)}
    with fetch.Prefetcher(src.kind, todo, dest, cfg.pip_timeout_s, cfg.download_workers,
                          retry_failed=cfg.retry_failed) as pre:
        for name, version in items:
            i = position.get((name, version))
            yield Unit(f"{src.kind}:{name}=={version}", name, (lambda: iter(())) if i is None else (
                lambda i=i, name=name, version=version: iter_archive(pre.get(i), name, version, src, cfg, src.kind)))


def iter_sdists(src: SourceConfig, cfg: CollectConfig, counts: Counter) -> Iterator[Item]:
    for unit in iter_units(src, cfg):
        try:
            yield from unit.items()
        except PACKAGE_ERRORS as exc:
            log.warning("skipping %s: %s", unit.key, exc)
            counts["package_failed"] += 1


def iter_source(src: SourceConfig, cfg: CollectConfig, counts: Counter) -> Iterator[Item]:
    if src.kind == "dir":
        root = Path(src.path).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"source directory {root} does not exist")
        yield from iter_dir(src, root, cfg)
    elif src.kind == "git":
        yield from iter_git(src, cfg)
    elif src.kind == "site-packages":
        yield from iter_site_packages(src, cfg)
    else:
        yield from iter_sdists(src, cfg, counts)


# ---------------------------------------------------------------- the step


def decode(data: bytes) -> str | None:
    """Text, or None for binary (a NUL byte, or not UTF-8)."""
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _collect_unit(unit: Unit, cfg: CollectConfig, writer: AppendShards, counts: Counter, by_language: Counter,
                  packages: dict, skip: set[str]) -> None:
    """One unit's files into the shards; a package that fails half-way is rewound and counted."""
    start = writer.position()
    written_bytes: dict[tuple, int] = {}
    local: Counter = Counter()
    try:
        for item in unit.items():
            local["seen"] += 1
            if canonical_name(item.package) in skip:  # a held-out distribution inside a site-packages source
                local["heldout_excluded"] += 1
                continue
            if item.data is None:
                local["unreadable"] += 1
                continue
            if item.data == b"":
                local["too_large_or_empty"] += 1
                continue
            text = decode(item.data)
            if text is None:
                local["binary"] += 1
                continue
            key = (item.package, item.version)
            if cfg.max_package_bytes and written_bytes.get(key, 0) + len(item.data) > cfg.max_package_bytes:
                local["over_package_cap"] += 1  # one huge package must not outweigh hundreds of others
                continue
            written_bytes[key] = written_bytes.get(key, 0) + len(item.data)
            language = language_of(item.path)
            repo = f"{item.package}=={item.version}"
            writer.write({
                "id": hashlib.sha256(f"{repo}/{item.path}".encode()).hexdigest()[:16],
                "repo": repo, "package": item.package, "version": item.version, "license": item.license,
                "path": item.path, "language": language, "source": item.source, "text": text,
            })
            local["written"] += 1
            local["written_bytes"] += len(item.data)
            by_language[language] += 1
            p = packages.setdefault(key, {"package": item.package, "version": item.version,
                                          "license": item.license, "source": item.source, "files": 0, "bytes": 0})
            p["files"] += 1
            p["bytes"] += len(item.data)
    except NotPermissive as exc:
        writer.rewind(start)
        counts["package_not_permissive"] += 1
        counts[f"package_license:{exc}"] += 1
        log.info("skipping %s: licence %s is not in the allow-list", unit.key, exc)
        return
    except (fetch.FetchError, *PACKAGE_ERRORS) as exc:
        writer.rewind(start)
        counts["package_failed"] += 1
        counts["package_fetch_failed" if isinstance(exc, fetch.FetchError) else "package_unreadable"] += 1
        log.warning("skipping %s: %s", unit.key, exc)
        return
    counts.update(local)
    counts["package_ok"] += 1
    if not local["written"]:
        counts["package_no_source_files"] += 1


def run(cfg: CollectConfig) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    skip = heldout_names(cfg.heldout)
    ledger = Ledger(out / "progress.jsonl", cfg.resume)
    counts: Counter = Counter()
    by_language: Counter = Counter()
    packages: dict[tuple, dict] = {}
    for e in ledger.entries:  # a resumed run starts from what the finished units counted
        counts.update(e["counts"])
        by_language.update(e["languages"])
        for p in e["packages"]:
            packages[(p["package"], p["version"])] = p
    resumed = len(ledger.entries)
    t0 = time.monotonic()
    with AppendShards(out, "data", cfg.shard_bytes, ledger.last_position()) as writer:
        for src in cfg.sources:
            for unit in iter_units(src, cfg, skip, set(ledger.done)):
                if unit.key in ledger.done:
                    continue
                t = time.monotonic()
                u_counts, u_langs, u_pkgs = Counter(), Counter(), {}
                if canonical_name(unit.package) in skip:
                    u_counts["heldout_excluded_packages"] += 1
                else:
                    _collect_unit(unit, cfg, writer, u_counts, u_langs, u_pkgs, skip)
                counts.update(u_counts)
                by_language.update(u_langs)
                packages.update(u_pkgs)
                ledger.append({"unit": unit.key, "position": writer.position(), "counts": dict(u_counts),
                               "languages": dict(u_langs), "packages": list(u_pkgs.values()),
                               "seconds": round(time.monotonic() - t, 3)})
    wall = time.monotonic() - t0
    report = {"step": "collect", "counts": dict(counts), "languages": dict(by_language),
              "packages": list(packages.values()),
              "timing": {"wall_s": round(wall, 1), "units_resumed": resumed,
                         "units_this_run": len(ledger.entries) - resumed,
                         "files_per_s": round((counts["seen"] - sum(e["counts"].get("seen", 0)
                                                                    for e in ledger.entries[:resumed])) / wall, 1)
                         if wall > 0 else None,
                         "peak_rss_mib": peak_rss_mib()},
              "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
