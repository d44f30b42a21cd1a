"""Deterministic samples cut from held-out repositories (after llm-ls's testbed).

- line:   a cursor inside a source line; the model sees the file up to the cursor (no suffix,
          as when code is written top to bottom) and must finish the line;
- single: one line's code removed (its indentation kept before the cursor), the rest of the file
          after it; the model fills the line;
- multi:  a block's body removed (2..10 lines, after the opener and any docstring), the cursor
          after the first line's indentation; the model fills the body.

Selection is seeded and ordered so that `--limit N` takes the first N of one fixed sequence:
runs with the same seed and limit score the same holes, whatever the checkpoint.
"""

from __future__ import annotations

import ast
import hashlib
import io
import random
import tokenize
from dataclasses import asdict, dataclass

from training.evaluate.heldout import Repo

MIN_CODE_CHARS = 6
MULTI_MIN_LINES, MULTI_MAX_LINES = 2, 10
MAX_FILE_CHARS = 200_000


@dataclass(frozen=True)
class Hole:
    id: str  # repo:path:line[:col]
    kind: str  # "line" | "single" | "multi"
    repo: str  # name==version
    path: str
    line: int  # 1-based line of the cursor
    prefix: str
    suffix: str
    target: str

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("prefix"), d.pop("suffix")
        return d


def _string_lines(text: str) -> set[int]:
    """Lines of multi-line strings, string statements (docstrings) and comment-only lines."""
    out: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                out.update(range(tok.start[0], tok.end[0] + 1))
            elif tok.type == tokenize.COMMENT and not tok.line[: tok.start[1]].strip():
                out.add(tok.start[0])
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return set(range(1, text.count("\n") + 2))
    try:  # docstrings and other bare string statements, one-line ones included
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                out.update(range(node.lineno, node.end_lineno + 1))
    except SyntaxError:
        return set(range(1, text.count("\n") + 2))
    return out


def _code_lines(text: str) -> list[int]:
    """0-based indices of lines worth a hole: real code, not strings, comments or lone brackets."""
    skip = _string_lines(text)
    out = []
    for i, line in enumerate(text.split("\n")):
        code = line.strip()
        if i + 1 in skip or len(code) < MIN_CODE_CHARS or code.startswith(("#", "@")):
            continue
        if not code.strip("()[]{},:;"):
            continue
        out.append(i)
    return out


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("\0".join([str(seed), *parts]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _offset(lines: list[str], index: int) -> int:
    return sum(len(ln) + 1 for ln in lines[:index])


def line_holes(repo: Repo, path: str, text: str, seed: int) -> list[Hole]:
    lines = text.split("\n")
    out = []
    for i in _code_lines(text):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        content = line.rstrip()[indent:]
        col = indent + _rng(seed, repo.key, path, str(i), "col").randint(0, len(content) // 2)
        start = _offset(lines, i)
        target = line.rstrip()[col:]
        if not target.strip():
            continue
        out.append(Hole(f"{repo.key}:{path}:{i + 1}:{col}", "line", repo.key, path, i + 1,
                        text[: start + col], "", target))
    return out


def single_holes(repo: Repo, path: str, text: str, seed: int) -> list[Hole]:
    lines = text.split("\n")
    out = []
    for i in _code_lines(text):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        start = _offset(lines, i)
        out.append(Hole(f"{repo.key}:{path}:{i + 1}", "single", repo.key, path, i + 1,
                        text[: start + indent], text[start + len(line):], line[indent:].rstrip()))
    return out


def multi_holes(repo: Repo, path: str, text: str, seed: int) -> list[Hole]:
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = text.split("\n")
    out = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, ast.stmt) or not isinstance(body, list) or not body:
            continue
        stmts = list(body)
        if (isinstance(stmts[0], ast.Expr) and isinstance(stmts[0].value, ast.Constant)
                and isinstance(stmts[0].value.value, str)):
            stmts = stmts[1:]  # keep the docstring: it is context
        if not stmts:
            continue
        first, last = stmts[0], stmts[-1]
        if first.lineno <= node.lineno:  # body on the header's line
            continue
        n = last.end_lineno - first.lineno + 1
        if not MULTI_MIN_LINES <= n <= MULTI_MAX_LINES:
            continue
        i = first.lineno - 1
        start = _offset(lines, i) + first.col_offset
        if lines[i][: first.col_offset].strip():
            continue
        end = _offset(lines, last.end_lineno - 1) + len(lines[last.end_lineno - 1])
        out.append(Hole(f"{repo.key}:{path}:{i + 1}", "multi", repo.key, path, i + 1,
                        text[:start], text[end:], text[start:end].rstrip()))
    return out


CUTTERS = {"line": line_holes, "single": single_holes, "multi": multi_holes}


def select(repos: list[Repo], kind: str, limit: int | None, seed: int = 1234) -> list[Hole]:
    """Every candidate of `kind`, shuffled per repository (seeded), interleaved across repositories."""
    per_repo: list[list[Hole]] = []
    for repo in repos:
        holes: list[Hole] = []
        for path in repo.source_files:
            text = repo.read(path)
            if len(text) > MAX_FILE_CHARS:
                continue
            holes.extend(CUTTERS[kind](repo, path, text, seed))
        holes.sort(key=lambda h: h.id)
        _rng(seed, repo.key, kind).shuffle(holes)
        per_repo.append(holes)
    out: list[Hole] = []
    for i in range(max((len(h) for h in per_repo), default=0)):
        for holes in per_repo:
            if i < len(holes):
                out.append(holes[i])
    return out if limit is None else out[:limit]
