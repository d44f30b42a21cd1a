"""annotate: FIM in the engine's exact template, mined pairs, execution-checked translations."""

from __future__ import annotations

import random
import shutil

import pytest

from model.fim import WINGMAN
from model.tiny import make_tokenizer
from training import annotate, mining, translate
from model.tasks import prompts
from training.config import AnnotateConfig, ConfigError, TranslateConfig
from training.io import iter_records

from .conftest import GEOMETRY, GEOMETRY_TESTS
from .pipeline import run_data_steps

GOOD_JS = {
    "clamp": "function clamp(x, lo, hi) {\n  if (x < lo) return lo;\n  if (x > hi) return hi;\n  return x;\n}\n",
    "scale": "function scale(values, factor) {\n  return values.map(v => v * factor);\n}\n",
}
BAD_JS = "function clamp(x, lo, hi) {\n  return x;\n}\n"


def test_fim_samples_use_the_engine_template_in_both_orders():
    rng = random.Random(0)
    text = GEOMETRY
    builders = annotate.fim_builders(make_tokenizer())
    for order in ("psm", "spm"):
        for _ in range(20):
            prefix, middle, suffix = annotate.fim_split(text, rng, 5)
            assert text.startswith(prefix + middle + suffix)  # the suffix may be dropped (end of file)
            segs = annotate.fim_sample(builders[order], prefix, middle, suffix, 1024)
            rendered = "".join(s for s, _ in segs)
            assert rendered == WINGMAN.render(prefix, suffix, order) + middle + "<|endoftext|>"
    spm = "".join(s for s, _ in annotate.fim_sample(builders["spm"], "P", "M", "S", 1024))
    assert spm == "<|wm_fim_suffix|>S<|wm_fim_prefix|>PM<|endoftext|>"  # the open middle
    psm = "".join(s for s, _ in annotate.fim_sample(builders["psm"], "P", "M", "S", 1024))
    assert psm == "<|wm_fim_prefix|>P<|wm_fim_suffix|>S<|wm_fim_middle|>M<|endoftext|>"


def test_fim_samples_are_cut_to_the_window_the_server_sends():
    """A long file's sample holds only what the engine's window would: whole lines near the cursor."""
    builders = annotate.fim_builders(make_tokenizer())
    text = "".join(f"value_{i} = compute({i})\n" for i in range(2000))
    cursor = text.index("value_1500 ")
    segs = annotate.fim_sample(builders["spm"], text[:cursor], "value_1500 = compute(1500)\n",
                               text[cursor + 27:], 1024)
    prompt = segs[:-2]
    tok = make_tokenizer()
    assert sum(len(tok(s, add_special_tokens=False)["input_ids"]) if not s.startswith("<|wm") else 1
               for s, _ in prompt) <= 1024
    prefix = prompt[3][0]
    assert text[:cursor].endswith(prefix) and prefix.startswith("value_") and len(prefix) < cursor


def test_middle_only_loss_trains_the_middle_and_its_end():
    builders = annotate.fim_builders(make_tokenizer())
    segs = annotate.fim_sample(builders["spm"], "P", "M", "S", 1024, loss="middle")
    assert "".join(t for t, _ in segs) == "<|wm_fim_suffix|>S<|wm_fim_prefix|>PM<|endoftext|>"
    assert [t for t, train in segs if train] == ["M", "<|endoftext|>"]
    with pytest.raises(ConfigError, match="fim_loss"):
        AnnotateConfig(fim_loss="prefix")


def test_tests_pairs_name_the_module_to_import():
    assert annotate.module_of("src/pkg/mod.py") == "pkg.mod"
    assert annotate.module_of("pkg/__init__.py") == "pkg"


def test_fim_splits_cover_the_shapes_an_editor_asks_for():
    """Rest of a line from mid-line; a line's code after its indentation; whole lines; no suffix."""
    rng = random.Random(1)
    seen = set()
    for _ in range(400):
        prefix, middle, suffix = annotate.fim_split(GEOMETRY, rng, 5)
        line_start = prefix[prefix.rfind("\n") + 1:]
        if not suffix:
            seen.add("no suffix")
        if middle.endswith("\n") and middle.count("\n") == 1 and line_start.strip():
            seen.add("rest of line")
        if middle.endswith("\n") and line_start and not line_start.strip() and middle.strip():
            seen.add("line after indentation" if middle.count("\n") == 1 else "block after indentation")
    assert seen == {"no suffix", "rest of line", "line after indentation", "block after indentation"}, seen


def test_mining_finds_functions_tests_and_literal_cases():
    fns = {f.name: f for f in mining.functions(GEOMETRY)}
    assert set(fns) == {"clamp", "scale"}
    assert fns["clamp"].signature == "def clamp(x, lo, hi):"
    assert fns["clamp"].docstring.startswith("Clamp x")
    assert "return x" in fns["clamp"].body and '"""' not in fns["clamp"].body
    tests = {t.name: t for t in mining.test_functions(GEOMETRY_TESTS)}
    assert tests["test_clamp"].cases == [("clamp", [5, 0, 3], 3), ("clamp", [-1, 0, 3], 0), ("clamp", [2, 0, 3], 2)]
    assert "scale" in tests["test_scale"].calls


def test_pairs_are_rendered_with_the_chat_template(two_repos, tmp_path, tiny_tokenizer):
    reports = run_data_steps(two_repos, tmp_path / "run", tiny_tokenizer)
    counts = reports["annotate"]["counts"]
    assert counts["docstring_to_function"] == 4 and counts["function_to_tests"] == 2
    assert counts["fim_psm"] + counts["fim_spm"] == 2 * counts["files"]
    samples = list(iter_records(tmp_path / "run" / "annotate"))
    pair = next(s for s in samples if s["kind"] == "function_to_tests" and "clamp" in s["segments"][0][0])
    (prompt, p_train), (answer, a_train) = pair["segments"]
    # The server's own request, system message included (model/tasks/prompts.py).
    assert prompt.startswith("<|im_start|>system\n" + prompts.SYSTEM + "<|im_end|>\n<|im_start|>user\n"
                             "Write pytest tests for the function `clamp`")
    assert prompt.endswith("<|im_start|>assistant\n")
    assert (p_train, a_train) == (False, True)
    assert "def test_clamp" in answer and answer.endswith("<|im_end|>\n")
    doc = next(s for s in samples if s["kind"] == "docstring_to_function" and "clamp" in s["segments"][0][0])
    assert "Write the Python code that the comment or docstring describes" in doc["segments"][0][0]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_execution_check_keeps_only_passing_translations(two_repos, tmp_path, tiny_tokenizer):
    cases = [([5, 0, 3], 3), ([-1, 0, 3], 0)]
    assert translate.check("clamp", GOOD_JS["clamp"], cases)[0]
    ok, out = translate.check("clamp", BAD_JS, cases)
    assert not ok and "AssertionError" in out
    assert not translate.check("clamp", "while (true) {}", cases, timeout_s=1)[0]

    calls = []

    def translator(source, name):
        calls.append(name)
        return [BAD_JS, GOOD_JS[name]] if name == "clamp" else ["syntax error here ("]

    cfg = AnnotateConfig(input=str(tmp_path / "run" / "clean"), output=str(tmp_path / "ann"),
                         translate=TranslateConfig(enabled=True))
    run_data_steps(two_repos, tmp_path / "run", tiny_tokenizer)
    report = annotate.run(cfg, translator=translator, tokenizer=tiny_tokenizer)
    assert sorted(calls) == ["clamp", "scale"]
    assert {r["name"]: r["passed"] for r in report["translations"]} == {"clamp": True, "scale": False}
    kinds = [s for s in iter_records(tmp_path / "ann") if s["kind"].startswith("translate_")]
    assert {s["kind"] for s in kinds} == {"translate_python_to_javascript", "translate_javascript_to_python"}
    forward = next(s for s in kinds if s["kind"] == "translate_python_to_javascript")
    assert GOOD_JS["clamp"].strip() in forward["segments"][1][0]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_tiny_model_translations_are_all_rejected(tiny_model):
    translator = translate.model_translator(tiny_model, max_new_tokens=24)
    (candidate,) = translator(GEOMETRY.split("\n\n\n")[0] + "\n", "clamp")
    assert isinstance(candidate, str)
    assert not translate.check("clamp", candidate, [([5, 0, 3], 3)])[0]


def test_mining_reads_parametrized_and_unittest_cases():
    src = '''
import pytest
import humanize


@pytest.mark.parametrize("test_args, expected", [([100], "100"), (["x"], float("nan")), pytest.param([1000, 2], "1,000", id="two")])
def test_intcomma(test_args, expected):
    assert humanize.intcomma(*test_args) == expected


@pytest.mark.parametrize("x", [1, 2])
def test_double(x):
    assert double(x) == x * 2  # not a literal: skipped


class T:
    def test_upper(self):
        self.assertEqual(upper("a"), "A")
'''
    tests = {t.name: t for t in mining.test_functions(src)}
    assert tests["test_intcomma"].cases == [("intcomma", [100], "100"), ("intcomma", [1000, 2], "1,000")]
    assert tests["test_double"].cases == []
    assert tests["test_upper"].cases == [("upper", ["a"], "A")]


def test_extract_code_and_es_module_exports():
    reply = "Here it is:\n```javascript\nexport function add(a, b) {\n  return a + b;\n}\n```\nDone."
    code = prompts.extract_code(reply, "javascript")
    assert code.startswith("export function add")
    assert prompts.extract_code("```js\nfunction f() {", "javascript") == "function f() {\n"  # cut off mid-block
    if shutil.which("node"):
        assert translate.check("add", code, [([1, 2], 3)])[0]
