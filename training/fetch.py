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

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

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


def pip_download(name: str, version: str, dest: Path, timeout: int) -> Path:
    """The sdist of name==version in `dest`, downloaded once."""
    dest.mkdir(parents=True, exist_ok=True)
    if (hit := _find_sdist(dest, name, version)) is not None:
        return hit
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
