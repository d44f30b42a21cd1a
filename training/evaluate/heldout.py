"""Held-out repositories: the manifest, fetching and unpacking sdists, their files and their tests.

The manifest (training/corpus/heldout.txt) names `name==version` source distributions; the
training corpus excludes them. Sources are fetched once with `pip download --no-binary :all:` and
unpacked under $WINGMAN_HOME/eval/repos/NAME-VERSION.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from model.paths import wingman_home
from model import sandbox

MANIFEST = Path(__file__).resolve().parents[1] / "corpus" / "heldout.txt"
TEST_DIRS = {"tests", "test", "testing"}
SKIP_DIRS = {"docs", "doc", "examples", "benchmarks", "bench", "build", "dist", "__pycache__", ".git", ".tox"}
SKIP_FILES = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "_build_tlz.py"}


def eval_home() -> Path:
    return wingman_home() / "eval"


def read_manifest(path: str | Path = MANIFEST) -> list[tuple[str, str]]:
    """`name==version` lines; blank lines and # comments ignored."""
    from training.collect import read_manifest as read

    return read(path)


def is_test_path(rel: str) -> bool:
    parts = Path(rel).parts
    name = parts[-1]
    return (any(p in TEST_DIRS for p in parts[:-1]) or name.startswith("test_") or name.endswith("_test.py")
            or name == "tests.py")


@dataclass
class Repo:
    name: str
    version: str
    root: Path
    test_timeout_s: float = 60.0
    _baseline: dict = field(default_factory=dict, repr=False)

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}"

    @cached_property
    def python_files(self) -> list[str]:
        out = []
        for p in sorted(self.root.rglob("*.py")):
            rel = p.relative_to(self.root).as_posix()
            if any(part in SKIP_DIRS or part.startswith(".") for part in Path(rel).parts[:-1]):
                continue
            if Path(rel).name in SKIP_FILES:
                continue
            out.append(rel)
        return out

    @cached_property
    def source_files(self) -> list[str]:
        return [f for f in self.python_files if not is_test_path(f)]

    @cached_property
    def test_files(self) -> list[str]:
        return [f for f in self.python_files if is_test_path(f) and Path(f).name != "__init__.py"]

    @property
    def pythonpath(self) -> str:
        return "src" if (self.root / "src").is_dir() else "."

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8", errors="replace")

    def module_name(self, rel: str) -> str:
        """Dotted import name of a source file (relative to the import root)."""
        p = Path(rel)
        if self.pythonpath != "." and p.parts[0] == self.pythonpath:
            p = Path(*p.parts[1:])
        parts = list(p.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def tests_for(self, rel: str) -> list[str]:
        """Test files that mention the module (by its last name); all of them when none does."""
        stem = self.module_name(rel).rsplit(".", 1)[-1]
        word = re.compile(rf"\b{re.escape(stem)}\b")
        hits = [t for t in self.test_files if word.search(self.read(t))]
        return hits or list(self.test_files)

    def run_tests(self, tests: list[str], replaced: dict[str, str] | None = None) -> sandbox.RunResult:
        """Run `tests` (pytest, stop at first failure) on a copy of the repo with `replaced` files."""
        files = {f"repo/{rel}": text for rel, text in (replaced or {}).items()}
        argv = [sandbox.python_executable(), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                "--no-header", "-o", "addopts=", *tests]
        limits = sandbox.Limits(timeout_s=self.test_timeout_s, memory_mb=2048, cpu_s=int(self.test_timeout_s) + 5)
        return sandbox.run(argv, files, copy_trees={"repo": self.root}, cwd="repo", limits=limits,
                           env={"PYTHONPATH": "{root}/repo/" + self.pythonpath})

    def baseline_passes(self, tests: list[str]) -> bool:
        """Whether the untouched repo passes `tests` here (holes are only scored by tests if so)."""
        key = tuple(tests)
        if key not in self._baseline:
            self._baseline[key] = self.run_tests(tests).ok
        return self._baseline[key]


def _unpack(archive: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    if archive.name.endswith((".tar.gz", ".tgz", ".tar.bz2", ".tar")):
        with tarfile.open(archive) as tf:
            tf.extractall(tmp, filter="data")
    elif archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise ValueError(f"unsafe path in {archive}: {member}")
            zf.extractall(tmp)
    else:
        raise ValueError(f"unknown archive type: {archive}")
    children = list(tmp.iterdir())
    top = children[0] if len(children) == 1 and children[0].is_dir() else tmp
    top.rename(dest) if top is not tmp else tmp.rename(dest)
    if tmp.exists():
        tmp.rmdir()


def fetch(name: str, version: str, home: Path | None = None) -> Repo:
    """The unpacked sdist, downloading it the first time (needs PyPI; cached afterwards)."""
    home = home or eval_home()
    dest = home / "repos" / f"{name}-{version}"
    if not dest.is_dir():
        downloads = home / "sdists"
        downloads.mkdir(parents=True, exist_ok=True)
        norm = re.sub(r"[-_.]+", "[-_.]", name)
        pattern = re.compile(rf"^{norm}-{re.escape(version)}\.(tar\.gz|zip|tar\.bz2|tgz)$", re.IGNORECASE)
        found = [p for p in downloads.iterdir() if pattern.match(p.name)]
        if not found:
            cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                   "-q", "-d", str(downloads), f"{name}=={version}"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            found = [p for p in downloads.iterdir() if pattern.match(p.name)]
            if not found:
                raise RuntimeError(f"could not fetch {name}=={version}: {r.stderr.strip()[-500:]}")
        _unpack(found[0], dest)
    return Repo(name, version, dest)


def load_repos(manifest: str | Path = MANIFEST, home: Path | None = None) -> list[Repo]:
    return [fetch(n, v, home) for n, v in read_manifest(manifest)]


def local_repo(root: str | Path, name: str | None = None) -> Repo:
    """A source tree already on disk (tests use small synthetic ones)."""
    root = Path(root)
    return Repo(name or root.name, "local", root)
