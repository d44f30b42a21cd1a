"""Step 1 of `wingman learn`: the repository's own source files, filtered and redacted as the corpus
pipeline does (training/clean.py's filter chain, training/filters.py's redaction).

- A git repository: the files git tracks (`git ls-files`), less any tracked file that .gitignore
  now covers. Any other folder: a directory walk that reads every .gitignore on the way.
- The privacy patterns (the server's built-in list and the user's `ignore` setting) come in as a
  predicate from the entry layer, so the list keeps its one home (server/privacy.py).
- A file is read only if its resolved path is inside the repository: a symlink out of it is
  skipped, so nothing outside the repository is ever trained on.
- Binary, vendored, generated, compiled and minified files are dropped and counted; secrets and
  e-mail addresses are redacted.
- Past `max_files` candidates, a fixed sample (lowest path hash) is taken, and the report says so.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from training import filters
from training.clean import python_syntax
from training.collect import SKIP_DIRS, decode, language_of


@dataclass
class SourceFile:
    path: str  # relative to the repository, POSIX separators
    language: str
    text: str  # redacted


@dataclass
class Collected:
    root: Path
    git: bool
    files: list[SourceFile]
    counts: Counter = field(default_factory=Counter)
    sampled: str = ""  # why and how the candidates were sampled, if they were

    @property
    def bytes(self) -> int:
        return sum(len(f.text.encode("utf-8", "replace")) for f in self.files)


def path_hash(rel: str, salt: str = "") -> float:
    """A stable number in [0, 1) per path: the same split on every run and every machine."""
    return int(hashlib.sha256(f"wingman-learn:{salt}:{rel}".encode()).hexdigest()[:12], 16) / 16**12


def is_git(root: Path) -> bool:
    try:
        r = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0 and Path(r.stdout.strip()).resolve() == root.resolve()


def _git_list(root: Path, *args: str) -> list[str]:
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", *args], capture_output=True, check=True,
                         timeout=300).stdout
    return [f for f in out.decode("utf-8", "replace").split("\0") if f]


def git_files(root: Path) -> list[str]:
    tracked = _git_list(root, "--cached")
    ignored = set(_git_list(root, "--cached", "--ignored", "--exclude-standard"))
    return sorted(f for f in tracked if f not in ignored)


def walk_files(root: Path) -> list[str]:
    """Every file under root, honouring each .gitignore found on the way (git's rules, pathspec)."""
    import pathspec

    specs: list[tuple[str, pathspec.PathSpec]] = []  # (directory prefix, its .gitignore)
    out: list[str] = []

    def ignored(rel: str, is_dir: bool) -> bool:
        for base, spec in specs:
            if rel.startswith(base):
                sub = rel[len(base):] + ("/" if is_dir else "")
                if spec.match_file(sub):
                    return True
        return False

    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if here == "." else here + "/"
        gi = Path(dirpath) / ".gitignore"
        if gi.is_file():
            try:
                specs.append((prefix, pathspec.GitIgnoreSpec.from_lines(gi.read_text(errors="replace").splitlines())))
            except Exception:  # noqa: BLE001 - a broken .gitignore ignores nothing, as git does with bad lines
                pass
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not ignored(prefix + d, True))
        out.extend(prefix + f for f in sorted(filenames) if not ignored(prefix + f, False))
    return out


def _inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def reason_to_drop(rel: str, text: str) -> str | None:
    """training/clean.py's per-file filters, in its order (licence and dedup aside)."""
    return (filters.binary(text) or filters.vendored(rel) or filters.generated(rel, text)
            or filters.compiled(rel, text) or filters.long_lines(text, 1000, 100.0)
            or filters.alpha_ratio(text, 0.25) or python_syntax(rel, text))


def collect(root: str | Path, is_private: Callable[[str], bool] = lambda p: False, max_files: int = 20_000,
            max_file_bytes: int = 1_000_000, languages: set[str] | None = None) -> Collected:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    git = is_git(root)
    names = git_files(root) if git else walk_files(root)
    counts: Counter = Counter(listed=len(names))
    candidates = []
    for rel in names:
        lang = language_of(rel)
        if lang is None or (languages and lang not in languages):
            counts["not_source"] += 1
        elif is_private(str(root / rel)) or is_private(rel):
            counts["private"] += 1
        else:
            candidates.append((rel, lang))
    sampled = ""
    if len(candidates) > max_files:
        sampled = (f"{len(candidates)} source files is over the bound of {max_files}: a fixed sample of {max_files} "
                   "(by path hash) is used")
        candidates = sorted(candidates, key=lambda c: path_hash(c[0], "sample"))[:max_files]
        candidates.sort()
        counts["not_sampled"] = len(names) - counts["not_source"] - counts["private"] - max_files
    files = []
    for rel, lang in candidates:
        path = root / rel
        if not _inside(root, path):  # a symlink out of the repository
            counts["outside_repository"] += 1
            continue
        try:
            if not path.is_file():
                counts["missing"] += 1
                continue
            if path.stat().st_size > max_file_bytes:
                counts["too_large"] += 1
                continue
            data = path.read_bytes()
        except OSError:
            counts["unreadable"] += 1
            continue
        text = decode(data)
        if text is None:
            counts["binary"] += 1
            continue
        reason = reason_to_drop(rel, text)
        if reason:
            counts[reason] += 1
            continue
        text, k = filters.redact_secrets(text)
        counts["redacted_secrets"] += k
        text, k = filters.redact_emails(text)
        counts["redacted_emails"] += k
        files.append(SourceFile(rel, lang, text))
    counts["kept"] = len(files)
    return Collected(root, git, files, counts, sampled)
