"""One home per contract: the server, training and evaluation use the same objects for the task
prompts, the reply parsing and the prompt window, and training renders exactly the token ids
the engine is sent."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import pytest

import model
import server
import training
import wingman
from model.tasks import prompts, testgen, window

SHARED = {  # name -> the one object
    "extract_code": prompts.extract_code,
    "block_closed": prompts.block_closed,
    "parse_reply": testgen.parse_reply,
    "prefix_window": window.prefix_window,
    "suffix_window": window.suffix_window,
    "FimPromptBuilder": window.FimPromptBuilder,
}


def _modules():
    for pkg in (model, server, training, wingman):
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.startswith("training.scripts") or info.name.endswith("__main__"):
                continue
            yield importlib.import_module(info.name)


def test_shared_names_are_the_same_objects_everywhere():
    users = {"server.features.translate": "prompts", "server.features.generate_tests": "prompts",
             "server.features.code_from_comment": "prompts", "server.generation": "prompts",
             "training.annotate": "prompts", "training.translate": "prompts", "training.evaluate.codegen": "prompts"}
    for name, attr in users.items():
        assert getattr(importlib.import_module(name), attr) is prompts, name
    assert importlib.import_module("model.local").FimPromptBuilder is window.FimPromptBuilder
    assert importlib.import_module("model.remote").FimPromptBuilder is window.FimPromptBuilder
    assert importlib.import_module("training.annotate").FimPromptBuilder is window.FimPromptBuilder
    assert importlib.import_module("training.evaluate.codegen").testgen is testgen


def test_no_module_defines_its_own_copy():
    """A function or class of a shared name is defined once, in model/tasks/, and nowhere else."""
    for module in _modules():
        for name, obj in vars(module).items():
            if name in SHARED and (inspect.isfunction(obj) or inspect.isclass(obj)):
                assert obj is SHARED[name], f"{module.__name__}.{name} is a copy"


# --- training renders what the server sends ---------------------------------------------------
@pytest.fixture(scope="module")
def fim_engine(tmp_path_factory):
    """A tiny checkpoint whose tokenizer has Wingman's FIM tokens, as a trained adapter's has."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from model.config import EngineConfig
    from model.factory import load_engine
    from model.tiny import make_tiny_checkpoint
    from training.pack import add_fim_tokens

    path = make_tiny_checkpoint(tmp_path_factory.mktemp("fim") / "ckpt")
    tok = AutoTokenizer.from_pretrained(path)
    add_fim_tokens(tok)
    hf = AutoModelForCausalLM.from_pretrained(path)
    hf.resize_token_embeddings(len(tok), mean_resizing=False)
    hf.save_pretrained(path)
    tok.save_pretrained(path)
    (path / "wingman.json").write_text(json.dumps({"fim_template": "wingman"}))
    return load_engine(EngineConfig(model=str(path), quantize="none", dtype="float32"))


SOURCE = 'def mean(values):\n    """The average."""\n    return sum(values) / len(values)\n'


@pytest.mark.parametrize("task", ["translate", "tests"])
def test_chat_samples_are_the_ids_the_engine_is_sent(fim_engine, task):
    from training.annotate import ChatRenderer
    from training.pack import tokenize_sample

    messages = (prompts.translate(SOURCE, "python", "javascript") if task == "translate"
                else prompts.tests(SOURCE, "mean", "stats"))
    assert messages[0] == {"role": "system", "content": prompts.SYSTEM}
    segments = ChatRenderer(fim_engine.tok)(messages, "```python\nanswer\n```")
    prompt_ids, labels = tokenize_sample(fim_engine.tok, segments[:1])
    assert prompt_ids == fim_engine.chat_ids(messages)
    assert set(labels) == {-100}  # the prompt is never trained on
    assert prompts.SYSTEM in fim_engine.tok.decode(prompt_ids)


def test_fim_samples_are_the_ids_the_engine_is_sent(fim_engine):
    from training.annotate import fim_builders, fim_sample
    from training.pack import tokenize_sample

    text = "".join(f"def f{i}(x):\n    return x * {i}\n\n" for i in range(300))
    cursor = text.index("return x * 150") + len("return ")
    middle = "x * 150\n"
    prefix, suffix = text[:cursor], text[cursor + len(middle):]
    budget = 400
    segments = fim_sample(fim_builders(fim_engine.tok)["spm"], prefix, middle, suffix, budget)
    ids, _ = tokenize_sample(fim_engine.tok, segments[:-2])  # the prompt, without the middle and EOT
    sent = fim_engine.builder.build(prefix, suffix, budget).ids
    assert ids == sent and len(sent) <= budget
    assert fim_engine.tok.decode(sent).startswith("<|wm_fim_suffix|>")
