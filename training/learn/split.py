"""Step 2 of `wingman learn`: hold files out, stably, and keep their copies out of training.

- Held out: the files whose path hash falls under `share` (training/learn/files.py: path_hash), so
  the same files are held out on every run. Python files are evaluated (the hole cutters of
  training/evaluate/holes.py parse Python); at least `min_heldout` of them are held out.
- Validation (the training loss curve, early stopping): another hash bucket of the training files.
- Deduplication against the held-out files: a training file whose body (imports and the licence
  header left out) equals a held-out file's, or whose MinHash Jaccard with one is over
  `near_threshold` (5-token shingles, as the corpus pipeline), is dropped, so that the gain on the
  held-out files is not a copy of them.
- Boilerplate lines (imports, the leading comment block) are also left out of the exact-match
  score the report shows beside the plain one.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from training.learn.files import SourceFile, path_hash

_IMPORT = re.compile(r"^\s*(import\s|from\s+\S+\s+import\s|#include\s|require\(|use\s|using\s|package\s)")
_REQUIRE = re.compile(r"^\s*(const|let|var)\s+\S+\s*=\s*require\(")
_COMMENT = re.compile(r"^\s*(#|//|/\*|\*|\*/|--|;)")


def header_lines(text: str) -> set[int]:
    """0-based indices of the leading comment block (licence header, shebang, encoding line) and of
    a module docstring that comes right after it."""
    lines = text.split("\n")
    out: set[int] = set()
    i = 0
    while i < len(lines) and (not lines[i].strip() or _COMMENT.match(lines[i])):
        out.add(i)
        i += 1
    if i < len(lines) and lines[i].lstrip().startswith(('"""', "'''")):
        quote = lines[i].lstrip()[:3]
        j = i
        if lines[i].count(quote) < 2:  # a docstring over several lines: up to its closing quotes
            j = next((k for k in range(i + 1, len(lines)) if quote in lines[k]), len(lines) - 1)
        out.update(range(i, j + 1))
    return out


def is_import(line: str) -> bool:
    return bool(_IMPORT.match(line) or _REQUIRE.match(line))


def boilerplate_lines(text: str) -> set[int]:
    """0-based lines that a model gets right by copying: imports and the licence header."""
    lines = text.split("\n")
    return header_lines(text) | {i for i, ln in enumerate(lines) if is_import(ln)}


def body(text: str) -> str:
    """The file without its boilerplate lines, whitespace-normalized: what dedup compares."""
    skip = boilerplate_lines(text)
    return "\n".join(ln.strip() for i, ln in enumerate(text.split("\n")) if i not in skip and ln.strip())


def _minhash(text: str, num_perm: int, shingle: int):
    from datasketch import MinHash

    tokens = re.findall(r"\w+|[^\w\s]", text)
    m = MinHash(num_perm=num_perm, seed=1)
    grams = {" ".join(tokens[i:i + shingle]) for i in range(max(1, len(tokens) - shingle + 1))}
    m.update_batch([g.encode() for g in grams])
    return m


@dataclass
class Split:
    train: list[SourceFile]
    validation: list[SourceFile]
    heldout: list[SourceFile]  # every held-out file (none is trained on)
    counts: Counter = field(default_factory=Counter)
    dropped: list[dict] = field(default_factory=list)  # training files removed as copies of held-out ones

    @property
    def heldout_python(self) -> list[SourceFile]:
        return [f for f in self.heldout if f.language == "python"]


def split(files: list[SourceFile], share: float = 0.1, min_heldout: int = 3, val_share: float = 0.05,
          near_threshold: float = 0.7, num_perm: int = 64, shingle: int = 5) -> Split:
    held = {f.path for f in files if path_hash(f.path, "heldout") < share}
    python = sorted((f for f in files if f.language == "python"), key=lambda f: path_hash(f.path, "heldout"))
    have = sum(1 for f in python if f.path in held)
    for f in python:  # the lowest-hashing Python files, until enough are held out to evaluate
        if have >= min_heldout:
            break
        if f.path not in held:
            held.add(f.path)
            have += 1
    heldout = [f for f in files if f.path in held]
    rest = [f for f in files if f.path not in held]
    counts: Counter = Counter(heldout=len(heldout))
    dropped: list[dict] = []

    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=near_threshold, num_perm=num_perm)
    exact = {}
    for f in heldout:
        b = body(f.text)
        if not b:
            continue
        exact[hashlib.sha256(b.encode()).hexdigest()] = f.path
        lsh.insert(f.path, _minhash(b, num_perm, shingle))
    seen_train: set[str] = set()
    kept = []
    for f in rest:
        b = body(f.text)
        digest = hashlib.sha256(b.encode()).hexdigest()
        if b and digest in exact:
            counts["dropped_exact_copy_of_heldout"] += 1
            dropped.append({"path": f.path, "heldout": exact[digest], "why": "exact"})
            continue
        near = lsh.query(_minhash(b, num_perm, shingle)) if b else []
        if near:
            counts["dropped_near_copy_of_heldout"] += 1
            dropped.append({"path": f.path, "heldout": sorted(near)[0], "why": "near"})
            continue
        if digest in seen_train:
            counts["dropped_duplicate_in_training"] += 1
            continue
        seen_train.add(digest)
        kept.append(f)
    val = [f for f in kept if path_hash(f.path, "validation") < val_share]
    if not val and len(kept) >= 2:
        val = [min(kept, key=lambda f: path_hash(f.path, "validation"))]
    train = [f for f in kept if f not in val]
    counts.update(train=len(train), validation=len(val))
    return Split(train, val, heldout, counts, dropped)
