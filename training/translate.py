"""Translation pairs by execution-checked self-training (after TransCoder-ST).

No parallel corpus is reachable offline, so: take Python functions whose tests assert plain literal
inputs and outputs, ask a model for a JavaScript translation, convert the test cases to JavaScript,
run them with node, and keep only the translations that pass. A kept pair is used both ways
(Python→JavaScript and JavaScript→Python). The translator is injectable: `Translator(python_source,
function_name) -> list of candidate JavaScript sources`.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from model.tasks import prompts

Translator = Callable[[str, str], list[str]]

class NotConvertible(ValueError):
    pass


def to_js(value) -> str:
    """A Python literal as a JavaScript expression; NotConvertible for what has no faithful twin."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise NotConvertible("integer beyond 2**53")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotConvertible("non-finite float")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_js(v) for v in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise NotConvertible("dict with non-string keys")
        return "{" + ", ".join(f"{json.dumps(k)}: {to_js(v)}" for k, v in value.items()) + "}"
    raise NotConvertible(type(value).__name__)


def js_tests(name: str, cases: list[tuple[list, object]]) -> str:
    lines = ["const assert = require('assert');"]
    for args, expected in cases:
        lines.append(f"assert.deepStrictEqual({name}({', '.join(to_js(a) for a in args)}), {to_js(expected)});")
    return "\n".join(lines) + "\n"


def run_js(code: str, tests: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """Run the translation and its tests in node, in the sandbox (model-written code); (passed, output)."""
    from model import sandbox

    node = shutil.which("node")
    if node is None:
        from training.config import StepError

        raise StepError("the translation check needs node on PATH (or set translate.enabled: false)")
    r = sandbox.run([node, "--max-old-space-size=256", "check.js"], {"check.js": code + "\n\n" + tests},
                    limits=sandbox.Limits(timeout_s=timeout_s, cpu_s=int(timeout_s) + 2))
    if r.timed_out:
        return False, "timeout"
    return r.returncode == 0, (r.stdout + r.stderr)[-2000:]


def check(name: str, js_source: str, cases, timeout_s: float = 5.0) -> tuple[bool, str]:
    try:
        tests = js_tests(name, cases)
    except NotConvertible as exc:
        return False, f"test not convertible: {exc}"
    # The check runs as a CommonJS script: drop ES-module `export` keywords a model may add.
    js_source = re.sub(r"^export\s+(default\s+)?(?=(async\s+)?function|const|let|class)", "", js_source, flags=re.M)
    return run_js(js_source, tests, timeout_s)


def convertible_cases(cases) -> list[tuple[list, object]]:
    out = []
    for args, expected in cases:
        try:
            to_js(args)
            to_js(expected)
        except NotConvertible:
            continue
        out.append((args, expected))
    return out


def model_translator(model_path: str | Path, max_new_tokens: int = 256, attempts: int = 1) -> Translator:
    """Translate with a causal LM through its chat template (greedy first, then sampled attempts)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path)
    model.eval()

    def translate(source: str, name: str) -> list[str]:
        messages = prompts.translate(source, "python", "javascript")  # what the server sends
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        outs = []
        for i in range(attempts):
            sampling = {"do_sample": True, "temperature": 0.7, "top_p": 0.95} if i > 0 else {"do_sample": False}
            with torch.no_grad():
                gen = model.generate(**ids, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id
                                     or tok.eos_token_id, **sampling)
            outs.append(prompts.extract_code(tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True),
                                             "javascript"))
        return outs

    return translate
