"""`wingman collect`: source files with provenance (package, version, licence, path) → JSONL shards.

Sources: a directory, a git repository (URL or local), the site-packages of an environment, and
source distributions fetched by name with `pip download --no-binary :all: --no-deps` from a
manifest of `name==version` lines. Files are read one at a time; a file that cannot be read is
counted and skipped.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from training import licenses
from training.config import CollectConfig, SourceConfig, to_dict
from training.io import ShardWriter, write_json

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


def pip_download(name: str, version: str, dest: Path, timeout: int) -> Path:
    """The sdist of name==version in `dest`, downloaded once."""
    dest.mkdir(parents=True, exist_ok=True)
    stem = f"{canonical_name(name)}-{version}"

    def find() -> Path | None:
        for p in sorted(dest.iterdir()):
            base = re.sub(r"(\.tar\.gz|\.tar\.bz2|\.tgz|\.zip|\.tar)$", "", p.name)
            if canonical_name(base) == canonical_name(stem) and p.is_file():
                return p
        return None

    if (hit := find()) is None:
        # pip prepares the sdist's metadata: first with this environment's build tools (fast, no
        # downloads), then in an isolated build environment (fetches the build backend).
        base = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                "--disable-pip-version-check", "--quiet", "-d", str(dest), f"{name}=={version}"]
        for extra in (["--no-build-isolation"], []):
            subprocess.run(base + extra, timeout=timeout, capture_output=True)
            if (hit := find()) is not None:
                break
    if hit is None:
        raise FileNotFoundError(f"pip download found no sdist for {name}=={version}")
    return hit


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


def iter_sdist_archive(archive: Path, name: str, version: str, src: SourceConfig, cfg: CollectConfig) -> Iterator[Item]:
    # First pass: the licence (PKG-INFO, then LICENSE files at the top level). Small files only.
    lic = licenses.normalize(src.license) if src.license else "unknown"
    if not src.license:
        text_lic = "unknown"
        for path, size, read in _archive_members(archive):
            parts = path.split("/")
            if len(parts) == 2 and parts[1] == "PKG-INFO" and lic == "unknown":
                lic = licenses.from_metadata(read().decode("utf-8", "replace"))
            elif len(parts) == 2 and LICENSE_NAMES.match(parts[1]) and size < 200_000 and text_lic == "unknown":
                text_lic = licenses.normalize(read().decode("utf-8", "replace"))
        lic = lic if lic != "unknown" else text_lic
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
        yield Item(name, version, lic, rel, data, "sdist")


def iter_sdists(src: SourceConfig, cfg: CollectConfig, counts: Counter) -> Iterator[Item]:
    from model.paths import downloads_dir

    dest = Path(cfg.download_dir).expanduser() if cfg.download_dir else downloads_dir() / "sdists"
    for name, version in read_manifest(src.manifest):
        try:
            archive = pip_download(name, version, dest, cfg.pip_timeout_s)
            yield from iter_sdist_archive(archive, name, version, src, cfg)
        except (OSError, subprocess.SubprocessError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            log.warning("skipping %s==%s: %s", name, version, exc)
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


def run(cfg: CollectConfig) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    skip = heldout_names(cfg.heldout)
    counts: Counter = Counter()
    by_language: Counter = Counter()
    packages: dict[tuple, dict] = {}
    with ShardWriter(out, "data", cfg.shard_bytes) as writer:
        for src in cfg.sources:
            for item in iter_source(src, cfg, counts):
                counts["seen"] += 1
                if canonical_name(item.package) in skip:
                    counts["heldout_excluded"] += 1
                    continue
                if item.data is None:
                    counts["unreadable"] += 1
                    continue
                if item.data == b"":
                    counts["too_large_or_empty"] += 1
                    continue
                text = decode(item.data)
                if text is None:
                    counts["binary"] += 1
                    continue
                language = language_of(item.path)
                repo = f"{item.package}=={item.version}"
                writer.write({
                    "id": hashlib.sha256(f"{repo}/{item.path}".encode()).hexdigest()[:16],
                    "repo": repo, "package": item.package, "version": item.version, "license": item.license,
                    "path": item.path, "language": language, "source": item.source, "text": text,
                })
                counts["written"] += 1
                by_language[language] += 1
                p = packages.setdefault((item.package, item.version), {
                    "package": item.package, "version": item.version, "license": item.license,
                    "source": item.source, "files": 0})
                p["files"] += 1
    report = {"step": "collect", "counts": dict(counts), "languages": dict(by_language),
              "packages": list(packages.values()), "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
