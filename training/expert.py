"""One round of expert iteration for the instruction tasks (after STaR / ReST): the model writes
tests and translations for corpus functions, the checkers keep what they verify, and the kept
pairs are training records for the next fine-tune. Round N+1 samples from the adapter trained on
round N (training/README.md, "Expert iteration").

- Functions: top-level, short Python functions with arguments, from modules that import only the
  standard library, of the packages pack puts in its *train* split (pack's fractions, forced
  packages and seed), never of training/corpus/heldout.txt. Chosen by a seeded hash, `limit` at most.
- Tests: the server's prompt (model/tasks/prompts.tests), k samples; a sample's test functions
  that assert on a call of the function and pass in the sandbox against the real module are kept
  when together they kill at least one of the generator's mutants (model/tasks/mutants.py).
- Translations (Python → JavaScript): the server's prompt, k samples, each checked by the
  verified-translation checker (model/tasks/verify.py: node, then differential execution).
- Records: as `Annotator.emit` writes them (training/annotate.py), the same chat renderer, kinds
  `function_to_tests_verified` and `translate_verified`; report.json counts the yields.
Model-written code runs only in the sandbox (model/sandbox/, through run_pytest and verify).
"""

from __future__ import annotations

import ast
import hashlib
import heapq
import json
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from model.tasks import mutants, prompts, testgen, verify
from model.tasks.differential import module_slice
from model.tasks.verified import run_pytest
from training import mining
from training.annotate import Annotator, ChatRenderer, fence, load_tokenizer, module_of
from training.collect import canonical_name, heldout_names
from training.config import AnnotateConfig, ExpertConfig, PackConfig, load_config, to_dict
from training.io import ShardWriter, iter_records, write_json
from training.pack import assign_splits

log = logging.getLogger(__name__)

# (messages, temperature, seed) -> the model's reply. 0.0 is greedy.
Sampler = Callable[[list, float, int], str]


# ---------------------------------------------------------------- which functions


@dataclass
class Target:
    repo: str
    path: str
    name: str
    source: str  # the def, dedented (what the prompt shows)
    module: str  # the import name the prompt names (annotate's module_of)
    module_text: str  # the module's slice: imports, defs, classes, assignments, no script code
    key: str = ""


def train_repos(records_dir: str, pack: PackConfig) -> dict[str, str]:
    """Package → split, exactly as pack assigns it over the same set of packages."""
    repos = sorted({r["repo"] for r in iter_records(records_dir) if "repo" in r})
    return assign_splits(repos, pack.val_fraction, pack.heldout_fraction, pack.val_repos, pack.heldout_repos,
                         pack.seed)


def _stdlib_only(tree: ast.Module) -> bool:
    """Every import (anywhere in the module) is absolute and of the standard library: the module
    runs in the sandbox without its package."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level or not node.module or node.module.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                return False
        elif isinstance(node, ast.Import):
            if any(a.name.split(".")[0] not in sys.stdlib_module_names for a in node.names):
                return False
    return True


def _runnable_def(node: ast.AST, cfg: ExpertConfig) -> bool:
    if not isinstance(node, ast.FunctionDef) or node.decorator_list or node.name.startswith(("test", "_")):
        return False
    a = node.args
    if not (a.posonlyargs or a.args or a.vararg) or (a.args and a.args[0].arg in ("self", "cls")):
        return False
    lines = node.end_lineno - node.lineno + 1
    if not cfg.min_lines <= lines <= cfg.max_lines:
        return False
    # A generator's or a coroutine's results are not values a test or a translation compares.
    return not any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Await)) for n in ast.walk(node))


def functions_of(rec: dict, cfg: ExpertConfig) -> Iterator[Target]:
    text = rec["text"]
    if len(text) > 200_000:
        return  # a very large module: a slow parse, and rarely self-contained
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return
    if not _stdlib_only(tree):
        return
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and _runnable_def(n, cfg)}
    if not names:
        return
    sliced = module_slice(text)
    for fn in mining.functions(text, rec["path"]):
        if fn.toplevel and fn.name in names and len(fn.source) <= cfg.max_chars:
            yield Target(rec["repo"], rec["path"], fn.name, fn.source, module_of(rec["path"]), sliced)


def pick(cfg: ExpertConfig, splits: dict[str, str], counts: Counter) -> list[Target]:
    """Up to `limit` functions of train-split packages, by a seeded hash (the same corpus and seed
    give the same functions), `max_per_repo` per package."""
    held = heldout_names(cfg.heldout)
    pool: list[tuple[str, int, Target]] = []  # a max-heap on the key (negated hex order via tuple)
    cap = cfg.limit * 4
    n = 0
    for rec in iter_records(cfg.input, errors=counts):
        if rec.get("language") != "python" or not isinstance(rec.get("text"), str) or "repo" not in rec:
            continue
        repo = rec["repo"]
        split = splits.get(repo)
        if split != "train":
            counts[f"files_skipped_{split or 'unsplit'}"] += 1
            continue
        if canonical_name(rec.get("package") or repo.split("==")[0]) in held:
            counts["files_skipped_heldout_list"] += 1
            continue
        if mining.is_test_path(rec["path"]):
            continue
        for t in functions_of(rec, cfg):
            counts["candidate_functions"] += 1
            t.key = hashlib.sha256(f"{cfg.seed}:{cfg.round}:{t.repo}:{t.path}:{t.name}".encode()).hexdigest()
            item = (_neg(t.key), n, t)
            n += 1
            if len(pool) < cap:
                heapq.heappush(pool, item)
            elif item > pool[0]:
                heapq.heapreplace(pool, item)
    chosen, per_repo = [], Counter()
    for _, _, t in sorted(pool, key=lambda x: x[2].key):
        if per_repo[t.repo] >= cfg.max_per_repo:
            continue
        per_repo[t.repo] += 1
        chosen.append(t)
        if len(chosen) >= cfg.limit:
            break
    return chosen


def _neg(hexkey: str) -> int:
    """A heap keeps the smallest on top; negating keeps the `cap` smallest keys in the pool."""
    return -int(hexkey[:16], 16)


# ---------------------------------------------------------------- tests


def _calls(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name for n in ast.walk(node))


def exercises(test_source: str, name: str) -> bool:
    """At least one assert on a call of `name`, or a `pytest.raises` block that calls it: a test
    that never looks at the function's result (`assert True`, a bare call) proves nothing."""
    try:
        tree = ast.parse(test_source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and _calls(node.test, name):
            return True
        if isinstance(node, ast.With) and any("raises" in ast.unparse(i.context_expr) for i in node.items) \
                and any(_calls(st, name) for st in node.body):
            return True
    return False


def repeats_an_assert(test_source: str) -> bool:
    """The same assert twice: the small model's loop (it writes one line until max_new_tokens).
    It checks nothing more than once does, and training on it would teach the loop."""
    asserts = [line.strip() for line in test_source.split("\n") if line.strip().startswith("assert ")]
    return len(asserts) != len(set(asserts))


def _replace_def(module_text: str, name: str, new_def: str) -> str:
    tree = ast.parse(module_text)
    node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = module_text.split("\n")
    return "\n".join(lines[:node.lineno - 1] + new_def.rstrip("\n").split("\n") + lines[node.end_lineno:])


@dataclass
class TestVerdict:
    kept: list[tuple[str, str]] = field(default_factory=list)  # (name, source) of the verified tests
    imports: list[str] = field(default_factory=list)
    reason: str = ""  # why nothing was kept
    killed: str = ""  # the mutant the kept tests kill

    @property
    def ok(self) -> bool:
        return bool(self.kept)

    def answer(self) -> str:
        """The reply a trained model should give: the imports the tests need, then the tests."""
        head = "\n".join(self.imports)
        body = "\n\n\n".join(src.rstrip() for _, src in self.kept)
        return (head + "\n\n\n" if head else "") + body


def check_tests(t: Target, reply: str, cfg: ExpertConfig) -> TestVerdict:
    code = testgen.parse_reply(prompts.extract_code(reply, "python"), t.module)
    if not code.functions:
        return TestVerdict(reason="no test function")
    fns = [(n, s) for n, s in code.functions if exercises(s, t.name)]
    if not fns:
        return TestVerdict(reason="no assert on the function")
    fns = [(n, s) for n, s in fns if not repeats_an_assert(s)]
    if not fns:
        return TestVerdict(reason="repeats an assert")
    run = testgen.TestCode(code.imports, fns)
    passed = run_pytest(testgen.standalone(run, t.module, t.name), t.module_text, t.module, None, None,
                        cfg.pytest_timeout_s)
    if passed is None:
        return TestVerdict(reason="pytest did not run")
    kept = [(n, s) for n, s in fns if n in passed]
    if not kept:
        return TestVerdict(reason="no test passed")
    v = TestVerdict(kept, list(code.imports))
    if cfg.mutants:
        muts = mutants.mutants(mutants.function_source(t.module_text, t.name)[0], seed=cfg.seed)[:cfg.mutants]
        if muts:
            only = testgen.standalone(testgen.TestCode(code.imports, kept), t.module, t.name)
            for m in muts:
                got = run_pytest(only, _replace_def(t.module_text, t.name, m.source), t.module, None, None,
                                 cfg.pytest_timeout_s)
                if got is not None and not {n for n, _ in kept} <= got:
                    v.killed = m.description
                    break
            else:
                return TestVerdict(reason=f"passes but kills none of {len(muts)} mutants")
    return v


# ---------------------------------------------------------------- the round


def engine_sampler(cfg: ExpertConfig) -> tuple[Sampler, str]:
    """The server's engine (model/local.py) with the model and adapter of this round; a reply
    stops once its code block closes, as the server's tasks stop."""
    import torch

    from model.config import EngineConfig
    from model.factory import load_engine

    engine = load_engine(EngineConfig(model=cfg.model, adapter=cfg.adapter or None, threads=cfg.threads))

    def sample(messages: list, temperature: float, seed: int) -> str:
        torch.manual_seed(seed)
        lang = "javascript" if "JavaScript code in" in messages[-1]["content"] else "python"
        text = ""
        for delta in engine.generate(messages, max_tokens=cfg.max_new_tokens, temperature=temperature):
            text += delta
            if prompts.block_closed(text, lang):
                break
        return text

    return sample, engine.info.name


def replay_sampler(path: str | Path) -> Sampler:
    """The replies of an earlier run's samples.jsonl, in order per prompt: the checks run again on
    the same samples (after a change to a check) without the model. A prompt it has no reply for
    gets an empty one (rejected, counted)."""
    replies: dict[str, list[str]] = {}
    for line in Path(path).read_text().splitlines():  # read whole: the round rewrites this file
        r = json.loads(line)
        replies.setdefault(_prompt_key(r["task"], r["repo"], r["path"], r["name"]), []).append(r["reply"])
    current: dict = {}

    def sample(messages: list, temperature: float, seed: int) -> str:
        key = current["key"]
        queue = replies.get(key, [])
        return queue.pop(0) if queue else ""

    sample.current = current  # run() names the prompt being sampled
    sample.has = lambda t: any(_prompt_key(k, t.repo, t.path, t.name) in replies for k in ("tests", "translate"))
    return sample


def _prompt_key(task: str, repo: str, path: str, name: str) -> str:
    return f"{task}\0{repo}\0{path}\0{name}"


def _temperature(cfg: ExpertConfig, i: int) -> float:
    return 0.0 if i == 0 and cfg.first_greedy else cfg.temperature


def _seed(cfg: ExpertConfig, t: Target, task: str, i: int) -> int:
    return int(hashlib.sha256(f"{cfg.seed}:{cfg.round}:{t.key}:{task}:{i}".encode()).hexdigest()[:8], 16)


def round_dir(cfg: ExpertConfig) -> Path:
    return Path(cfg.output) / f"round-{cfg.round}"


def run(cfg: ExpertConfig, sampler: Sampler | None = None, tokenizer=None) -> dict:
    t0 = time.monotonic()
    out = round_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    pack = load_config(PackConfig, cfg.pack_config) if cfg.pack_config else PackConfig()
    splits = train_repos(cfg.input, pack)
    targets = pick(cfg, splits, counts)
    counts["functions_picked"] = len(targets)
    t_pick = time.monotonic() - t0
    model_name = "injected sampler"
    if sampler is None and cfg.replay:
        sampler, model_name = replay_sampler(cfg.replay), f"replayed from {cfg.replay}"
    elif sampler is None:
        sampler, model_name = engine_sampler(cfg)
    current = getattr(sampler, "current", {})
    chat = ChatRenderer(tokenizer or load_tokenizer(cfg.tokenizer))
    vopts = verify.VerifyOptions()
    results, reasons = [], {"tests": Counter(), "translate": Counter()}
    seconds = Counter()
    # Every sample with its verdict, for reading what the model writes (not data-*: pack skips it).
    log_file = open(out / "samples.jsonl", "w")

    def note(t: Target, task: str, i: int, reply: str, ok: bool, why: str) -> None:
        log_file.write(json.dumps({"repo": t.repo, "path": t.path, "name": t.name, "task": task, "sample": i,
                                   "verified": ok, "reason": why, "reply": reply[:4000]}) + "\n")

    with log_file, ShardWriter(out, "data") as writer:
        emitter = Annotator(AnnotateConfig(), writer, chat, counts)
        for t in targets:
            if cfg.budget_minutes and time.monotonic() - t0 > cfg.budget_minutes * 60:
                counts["functions_not_tried_budget"] += 1
                continue
            if hasattr(sampler, "has") and not sampler.has(t):
                counts["functions_not_in_replay"] += 1  # the sampled run's budget ended before it
                continue
            counts["functions_tried"] += 1
            rec = {"repo": t.repo, "path": t.path, "language": "python"}
            row = {"repo": t.repo, "path": t.path, "name": t.name}
            if "tests" in cfg.tasks and cfg.test_samples:
                messages = prompts.tests(t.source, t.name, t.module)
                current["key"] = _prompt_key("tests", t.repo, t.path, t.name)
                kept: set[str] = set()
                for i in range(cfg.test_samples):
                    g = time.monotonic()
                    reply = sampler(messages, _temperature(cfg, i), _seed(cfg, t, "tests", i))
                    seconds["sampling"] += time.monotonic() - g
                    counts["samples_tests"] += 1
                    g = time.monotonic()
                    try:
                        v = check_tests(t, reply, cfg)
                    except Exception as exc:  # one odd function or reply never stops the round
                        log.warning("checking tests of %s:%s failed: %r", t.path, t.name, exc)
                        v = TestVerdict(reason=f"checker error ({type(exc).__name__})")
                    seconds["checking"] += time.monotonic() - g
                    note(t, "tests", i, reply, v.ok, v.reason or f"kills {v.killed or 'no mutant (none tried)'}")
                    if not v.ok:
                        reasons["tests"][v.reason.split(" of ")[0]] += 1
                        continue
                    answer = v.answer()
                    if answer in kept or len(kept) >= cfg.keep_per_function:
                        counts["tests_verified_duplicate_or_over"] += 1
                        continue
                    kept.add(answer)
                    emitter.emit("function_to_tests_verified", rec, chat(messages, fence(answer)))
                row["tests_kept"] = len(kept)
            if "translate" in cfg.tasks and cfg.translate_samples:
                g = time.monotonic()
                try:
                    p = verify.plan(t.source, "python", "javascript", module_text=t.module_text, options=vopts,
                                    only=[t.name])
                except Exception as exc:
                    log.warning("planning the translation check of %s:%s failed: %r", t.path, t.name, exc)
                    p = verify.Plan("python", "javascript", notes=[f"checker error: {type(exc).__name__}"])
                seconds["checking"] += time.monotonic() - g
                kept = set()
                if not p.runnable:
                    counts["translate_not_runnable"] += 1
                    reasons["translate"]["source not runnable: " + (p.notes[0].split(":")[-1].strip()[:60]
                                                                    if p.notes else "?")] += 1
                else:
                    messages = prompts.translate(t.source, "python", "javascript")
                    current["key"] = _prompt_key("translate", t.repo, t.path, t.name)
                    for i in range(cfg.translate_samples):
                        g = time.monotonic()
                        reply = sampler(messages, _temperature(cfg, i), _seed(cfg, t, "translate", i))
                        seconds["sampling"] += time.monotonic() - g
                        counts["samples_translate"] += 1
                        code = prompts.extract_code(reply, "javascript")
                        g = time.monotonic()
                        c = verify.Candidate(i, code)
                        if code.strip():
                            try:
                                verify.check(c, p, vopts)
                            except Exception as exc:
                                log.warning("checking a translation of %s:%s failed: %r", t.path, t.name, exc)
                                c.verified, c.summary = False, f"checker error ({type(exc).__name__})"
                        seconds["checking"] += time.monotonic() - g
                        note(t, "translate", i, reply, c.verified, c.summary or "no code")
                        if not c.verified:
                            reasons["translate"][(c.summary or "no code").split(" on ")[0][:80]] += 1
                            continue
                        if code in kept or len(kept) >= cfg.keep_per_function:
                            counts["translate_verified_duplicate_or_over"] += 1
                            continue
                        kept.add(code)
                        emitter.emit("translate_verified", rec, chat(messages, fence(code, "javascript")))
                row["translations_kept"] = len(kept)
            results.append(row)
            log.info("%s %s:%s tests %s translations %s", t.repo, t.path, t.name, row.get("tests_kept"),
                     row.get("translations_kept"))
    wall = time.monotonic() - t0
    verified = {k: counts[k] for k in ("function_to_tests_verified", "translate_verified")}
    report = {"step": "expert", "round": cfg.round, "model": model_name,
              "functions": {"candidates": counts["candidate_functions"], "picked": len(targets),
                            "tried": counts["functions_tried"]},
              "samples": {"tests": counts["samples_tests"], "translate": counts["samples_translate"]},
              "verified_pairs": verified,
              "yield": {"tests": _share(verified["function_to_tests_verified"], counts["samples_tests"]),
                        "translate": _share(verified["translate_verified"], counts["samples_translate"])},
              "rejected": {k: dict(v.most_common(12)) for k, v in reasons.items()},
              "counts": dict(counts),
              "seconds": {"wall": round(wall, 1), "pick": round(t_pick, 1),
                          **{k: round(v, 1) for k, v in seconds.items()}},
              "functions_list": results, "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report


def _share(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None
