"""A small synthetic held-out repository and engines that answer from known solutions."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from model.types import Completion, EngineInfo, Timings
from training.evaluate.heldout import local_repo

MODULE = '''\
"""Small text helpers."""

import re

SEPARATOR = "-"
_WORDS = re.compile(r"[a-z0-9]+")


def slugify(text):
    """Lower-case words joined by SEPARATOR."""
    words = _WORDS.findall(text.lower())
    return SEPARATOR.join(words)


def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def ordinal(number):
    number = abs(int(number))
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def untested(x):
    y = x * 3
    return y + 1


def needs_class(x):
    return Box(x)


class Box:
    def __init__(self, x):
        self.x = x
'''

TESTS = '''\
import pytest
import unittest

from minirepo import textutils
from minirepo.textutils import clamp, ordinal

ORDINALS = ((1, "st"), (2, "nd"), (3, "rd"), (4, "th"), (11, "th"), (12, "th"), (21, "st"), (113, "th"))


def test_slugify():
    assert textutils.slugify("Hello World") == "hello-world"
    assert textutils.slugify("  A  b c ") == "a-b-c"
    assert "x" == textutils.slugify("x")


@pytest.mark.parametrize("value, low, high, expected", [(5, 0, 10, 5), (-3, 0, 10, 0), (42, 0, 10, 10)])
def test_clamp(value, low, high, expected):
    assert clamp(value, low, high) == expected


def test_ordinal():
    for number, suffix in ORDINALS:
        assert ordinal(number) == suffix


class TestBox(unittest.TestCase):
    def test_box(self):
        self.assertEqual(textutils.needs_class(3).x, 3)
        self.assertEqual(clamp(0, 1, 2), 1)
'''


@pytest.fixture(autouse=True)
def wingman_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "wingman-home"))
    return tmp_path / "wingman-home"


def untested_lines() -> range:
    lines = MODULE.split("\n")
    start = lines.index("def untested(x):") + 1
    return range(start, start + 3)


@pytest.fixture(scope="session")
def minirepo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("repos") / "minirepo-src"
    (root / "minirepo").mkdir(parents=True)
    (root / "minirepo" / "__init__.py").write_text("")
    (root / "minirepo" / "textutils.py").write_text(MODULE)
    (root / "tests").mkdir()
    (root / "tests" / "test_textutils.py").write_text(TESTS)
    return root


@pytest.fixture()
def repo(minirepo):
    return local_repo(minirepo, "minirepo")


@dataclass
class OracleEngine:
    """Answers completions from a table keyed by (prefix, suffix), and chat prompts by a function
    of the prompt; anything else gets `fallback`. Counts calls."""

    answers: dict = field(default_factory=dict)
    reply: object = None  # callable(prompt) -> str
    fallback: str = "pass"
    calls: int = 0
    info: EngineInfo = field(default_factory=lambda: EngineInfo(name="oracle", backend="fake", fim_template="none"))

    def complete(self, request, cancel=None) -> list[Completion]:
        self.calls += 1
        text = self.answers.get((request.prefix, request.suffix), self.fallback)
        t = Timings(prompt_tokens=len(request.prefix), cached_tokens=len(request.prefix) // 2, prefill_ms=1.0,
                    generated_tokens=3, decode_ms=2.0, total_ms=3.0)
        return [Completion(text=text, confidence=0.9, timings=t, stop_reason="eos", mode=request.mode)]

    def generate(self, messages, cancel=None, max_tokens=512, temperature=0.0) -> Iterator[str]:
        self.calls += 1
        yield self.reply(messages[-1]["content"]) if self.reply else self.fallback

    def score(self, text, cancel=None):
        return []


def dedent(s: str) -> str:
    return textwrap.dedent(s).lstrip("\n")
