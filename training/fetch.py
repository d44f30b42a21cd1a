"""Fetching packages into the download cache, once each, through the registries' own clients.

- PyPI: `pip download --no-binary :all: --no-deps` (first with this environment's build tools,
  then in an isolated build environment: pip prepares the sdist's metadata);
- npm: `npm pack NAME@VERSION` (the registry tarball; no install scripts run).

A download lands in a temporary directory inside the cache and is renamed into place, so an
interrupted run never leaves a half-written archive that a later run would trust. `Prefetcher`
downloads ahead of the step in a few threads (the work is network and subprocess bound) while the
step reads packages in manifest order.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

log = logging.getLogger(__name__)
ARCHIVE_SUFFIX = re.compile(r"(\.tar\.gz|\.tar\.bz2|\.tar\.xz|\.tgz|\.zip|\.tar)$")


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


class FetchError(OSError):
    """A package that could not be fetched (the reason is the message)."""


def _find_sdist(dest: Path, name: str, version: str) -> Path | None:
    stem = canonical_name(f"{name}-{version}")
    for p in sorted(dest.iterdir()) if dest.is_dir() else []:
        if p.is_file() and canonical_name(ARCHIVE_SUFFIX.sub("", p.name)) == stem:
            return p
    return None


_pip = threading.local()


def _pip_finder():
    """pip's own index finder and network session (pip.conf, extra indexes, certificates), one per
    thread. `pip download` would also prepare each sdist's metadata, which runs its build backend:
    seconds per package, minutes (a compile) for some; collect needs only the archive."""
    if getattr(_pip, "finder", None) is None:
        from pip._internal.commands import create_command

        cmd = create_command("download")
        options, _ = cmd.parse_args(["--no-binary", ":all:", "--no-deps", "-d", ".", "pip"])
        _pip.context = cmd.main_context()
        _pip.context.__enter__()  # held for the thread's life: the session lives in it
        _pip.session = cmd.get_default_session(options)
        _pip.finder = cmd._build_package_finder(options=options, session=_pip.session, target_python=None,
                                                ignore_requires_python=True)
    return _pip.finder, _pip.session


def pip_fetch_sdist(name: str, version: str, dest: Path, timeout: int) -> Path:
    """The sdist found by pip's finder, downloaded with pip's session and checked against the
    index's hash, without preparing its metadata."""
    import hashlib

    from pip._vendor.packaging.specifiers import SpecifierSet

    finder, session = _pip_finder()
    best = finder.find_best_candidate(name, SpecifierSet(f"=={version}")).best_candidate
    if best is None:
        raise FetchError(f"no sdist for {name}=={version} on the index")
    link = best.link
    if not link.filename.endswith((".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar", ".tar.xz")):
        raise FetchError(f"no sdist for {name}=={version} (best file: {link.filename})")
    with tempfile.TemporaryDirectory(dir=dest, prefix=".part-") as tmp:
        part = Path(tmp) / link.filename
        digest = hashlib.new(link.hash_name) if link.hash_name else None
        with session.get(link.url.split("#")[0], stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            with open(part, "wb") as f:
                for chunk in resp.iter_content(1 << 20):
                    f.write(chunk)
                    if digest:
                        digest.update(chunk)
        if digest and digest.hexdigest() != link.hash:
            raise FetchError(f"{link.filename}: {link.hash_name} does not match the index")
        target = dest / link.filename
        part.replace(target)
    return target


def pip_download(name: str, version: str, dest: Path, timeout: int) -> Path:
    """The sdist of name==version in `dest`, downloaded once: through pip's finder and session,
    else (pip's internals moved) `pip download`."""
    dest.mkdir(parents=True, exist_ok=True)
    if (hit := _find_sdist(dest, name, version)) is not None:
        return hit
    try:
        return pip_fetch_sdist(name, version, dest, timeout)
    except FetchError:
        raise
    except (ImportError, AttributeError, TypeError) as exc:
        log.info("pip's finder is not usable (%r); running pip download", exc)
    except Exception as exc:  # network errors of pip's vendored requests
        raise FetchError(f"{name}=={version}: {exc!r}"[:300]) from exc
    base = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
            "--disable-pip-version-check", "--quiet"]
    last = ""
    with tempfile.TemporaryDirectory(dir=dest, prefix=".part-") as tmp:
        for extra in (["--no-build-isolation"], []):
            try:
                done = subprocess.run(base + extra + ["-d", tmp, f"{name}=={version}"], timeout=timeout,
                                      capture_output=True, text=True)
                last = (done.stderr.strip().splitlines() or [""])[-1]
            except subprocess.TimeoutExpired:
                last = f"pip download timed out after {timeout} s"
            if (hit := _find_sdist(Path(tmp), name, version)) is not None:
                target = dest / hit.name
                hit.replace(target)
                return target
    raise FetchError(f"no sdist for {name}=={version}: {last[:300]}")


def npm_archive_name(name: str, version: str) -> str:
    return f"{name.lstrip('@').replace('/', '+')}-{version}.tgz"


def npm_pack(name: str, version: str, dest: Path, timeout: int) -> Path:
    """The npm registry tarball of name@version in `dest`, downloaded once."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / npm_archive_name(name, version)
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(dir=dest, prefix=".part-") as tmp:
        try:
            done = subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", tmp, "--silent",
                                   "--ignore-scripts"], timeout=timeout, capture_output=True, text=True)
        except subprocess.TimeoutExpired as exc:
            raise FetchError(f"npm pack {name}@{version} timed out after {timeout} s") from exc
        except FileNotFoundError as exc:
            raise FetchError("npm is not installed") from exc
        got = sorted(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(got) != 1:
            reason = (done.stderr.strip().splitlines() or ["no tarball"])[-1]
            raise FetchError(f"npm pack {name}@{version}: {reason[:300]}")
        got[0].replace(target)
    return target


def _failed_marker(dest: Path, name: str, version: str) -> Path:
    return dest / ".failed" / npm_archive_name(name, version).removesuffix(".tgz")


def fetch(kind: str, name: str, version: str, dest: Path, timeout: int, retry_failed: bool = False) -> Path:
    """The archive, downloaded once. A failure is remembered in `dest/.failed/` (with its reason), so a
    resumed or repeated run does not wait on the same timeout again unless `retry_failed`."""
    marker = _failed_marker(dest, name, version)
    if marker.is_file() and not retry_failed:
        raise FetchError(f"failed before: {marker.read_text().strip()}")
    try:
        return npm_pack(name, version, dest, timeout) if kind == "npm" else pip_download(name, version, dest, timeout)
    except FetchError as exc:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(exc) + "\n")
        raise


class Prefetcher:
    """Downloads up to `ahead` packages beyond the one being read, in `workers` threads."""

    def __init__(self, kind: str, items: list[tuple[str, str]], dest: Path, timeout: int, workers: int = 4,
                 ahead: int = 16, retry_failed: bool = False):
        self.kind, self.items, self.dest, self.timeout = kind, items, dest, timeout
        self.retry_failed = retry_failed
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="fetch")
        self.ahead = max(1, ahead)
        self.futures: dict[int, Future] = {}
        self.next = 0
        self.lock = threading.Lock()

    def _submit_until(self, i: int) -> None:
        while self.next < len(self.items) and self.next <= i + self.ahead:
            name, version = self.items[self.next]
            self.futures[self.next] = self.pool.submit(fetch, self.kind, name, version, self.dest, self.timeout,
                                                      self.retry_failed)
            self.next += 1

    def get(self, i: int) -> Path:
        """The archive of items[i] (raises FetchError when it could not be fetched)."""
        with self.lock:
            self._submit_until(i)
        fut = self.futures.pop(i, None)
        if fut is None:  # asked out of order: fetch it now
            name, version = self.items[i]
            return fetch(self.kind, name, version, self.dest, self.timeout, self.retry_failed)
        return fut.result()

    def close(self) -> None:
        for fut in self.futures.values():
            fut.cancel()
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Prefetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def remove_partials(dest: Path) -> None:
    """Temporary download directories a killed run left behind."""
    for p in dest.glob(".part-*") if dest.is_dir() else []:
        shutil.rmtree(p, ignore_errors=True)
