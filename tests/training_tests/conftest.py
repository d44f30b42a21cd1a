from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

MIT = "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\n"

GEOMETRY = '''\
def clamp(x, lo, hi):
    """Clamp x into the closed interval [lo, hi] and return it."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def scale(values, factor):
    """Multiply every value in the list by the given factor."""
    out = []
    for v in values:
        out.append(v * factor)
    return out
'''

GEOMETRY_TESTS = '''\
from geometry import clamp, scale


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_scale():
    assert scale([1, 2], 3) == [3, 6]
'''

STRINGS = '''\
def shout(text):
    """Upper-case the text and add an exclamation mark at the end."""
    result = text.upper()
    result = result + "!"
    return result


def words(sentence):
    """Split a sentence on whitespace and drop empty pieces."""
    parts = sentence.split()
    kept = [p for p in parts if p]
    return kept
'''


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text) if not text.startswith(" ") else text)
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from model.tiny import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture()
def two_repos(tmp_path) -> list[Path]:
    a = write_tree(tmp_path / "src" / "geometry", {"LICENSE": MIT, "geometry.py": GEOMETRY,
                                                   "tests/test_geometry.py": GEOMETRY_TESTS})
    b = write_tree(tmp_path / "src" / "strings", {"LICENSE": MIT, "strings_util.py": STRINGS,
                                                  "web/app.js": "function add(a, b) {\n  return a + b;\n}\n"})
    return [a, b]
