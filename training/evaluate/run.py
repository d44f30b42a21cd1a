"""`wingman eval`'s work: score the base model and candidate checkpoints side by side, on the same
samples, in one run (the command line is in wingman/commands/evaluate.py)."""

from __future__ import annotations

import datetime as dt
import gc
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from model.config import EngineConfig

TASKS = ("line", "infill", "humaneval", "tests", "testgen", "translate", "latency", "crossfile")


@dataclass
class Candidate:
    name: str  # its column in the report
    model: str  # "base", "default", a checkpoint directory or a .gguf
    adapter: str | None = None  # a peft adapter merged into `model`
    engine: dict = field(default_factory=dict)  # engine options of this candidate alone (e.g. kernels)


@dataclass
class EvalOptions:
    candidates: list[Candidate]
    engine: EngineConfig = field(default_factory=EngineConfig)  # backend, device, quantize, threads...
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    limit: int | None = 20  # samples per task; None: all
    seed: int = 1234  # hole and problem selection
    out: str = "eval-out"  # report.json, report.md, plots, samples/
    manifest: str | None = None  # held-out repositories (default: training/corpus/heldout.txt)
    repos: list[str] = field(default_factory=list)  # source trees used instead of the manifest
    budget: int = 1024  # prompt tokens per completion
    repo_tests: bool = True  # score infilling by the repositories' own tests too
    compare: list[str] = field(default_factory=list)  # earlier report.json files to add
    command: list[str] = field(default_factory=list)  # recorded in the report
    translate: dict = field(default_factory=dict)  # targets, candidates, budget_s (training/evaluate/translate_eval.py)


def _load(options: EvalOptions, cand: Candidate):
    from model.factory import load_engine

    from model.configs import structure

    config = replace(options.engine, model=cand.model, adapter=cand.adapter,
                     remote_model=options.engine.remote_model or cand.model)
    config, problems = structure(EngineConfig, cand.engine, config)  # checked as every engine option is
    if problems:
        raise ValueError(f"candidate {cand.name}: " + "; ".join(f"{p.path}: expected {p.expected}" for p in problems))
    return load_engine(config)


def run_tasks(engine, ctx, tasks: list[str], log, on_done=None) -> dict:
    """Run `tasks` in order; `on_done(task, result)` after each (the report is rewritten then, so
    a long run that stops early keeps what it finished)."""
    from training.evaluate import codegen, completion, crossfile, latency, testgen

    runners = {"line": completion.run_line, "infill": completion.run_infill, "humaneval": codegen.run_humaneval,
               "tests": codegen.run_gentests, "testgen": testgen.run_testgen, "translate": codegen.run_translate,
               "latency": latency.run_latency, "crossfile": crossfile.run_crossfile}
    results = {}
    for t in tasks:
        log(f"[{t}]")
        t0 = time.perf_counter()
        results[t] = runners[t](engine, ctx)
        results[t]["seconds"] = time.perf_counter() - t0
        log(f"[{t}] {json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results[t]['metrics'].items()})}")
        if on_done:
            on_done(t, results[t])
    return results


def evaluate(options: EvalOptions, log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """Every candidate on the same samples, one after the other; the report is rewritten after
    each task."""
    from model import sandbox
    from training.evaluate import heldout, report
    from training.evaluate.context import EvalContext

    tasks = options.tasks
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown tasks {sorted(unknown)}; choose from {','.join(TASKS)}")
    needs_repos = set(tasks) & {"line", "infill", "tests", "testgen", "translate", "latency", "crossfile"}
    if options.repos:
        repos = [heldout.local_repo(r) for r in options.repos]
    elif needs_repos:
        repos = heldout.load_repos(options.manifest or heldout.MANIFEST)
    else:
        repos = []
    ctx = EvalContext(repos=repos, limit=options.limit, seed=options.seed, budget=options.budget,
                      run_repo_tests=options.repo_tests, log=log, translate=options.translate)
    out = Path(options.out)
    rep = {
        "wingman_eval": 1,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": options.command,
        "settings": {"tasks": tasks, "limit": options.limit, "seed": options.seed, "budget": options.budget,
                     "repo_tests": options.repo_tests, "translate": options.translate},
        "heldout": [r.key for r in repos],
        "sandbox": sandbox.capabilities([sandbox.python_executable(), sandbox.node_executable() or "node"]),
        "candidates": [],
    }
    for cand in options.candidates:
        log(f"== {cand.name}: loading {cand.model}" + (f" + {cand.adapter}" if cand.adapter else ""))
        engine = _load(options, cand)
        entry = asdict(cand) | {"engine": asdict(engine.info), "tasks": {}}
        rep["candidates"].append(entry)
        samples_dir = out / "samples" / cand.name
        samples_dir.mkdir(parents=True, exist_ok=True)

        def done(t, r, entry=entry, samples_dir=samples_dir):
            with open(samples_dir / f"{t}.jsonl", "w") as f:
                for s in r.get("samples", []):
                    f.write(json.dumps(s, default=str) + "\n")
            entry["tasks"][t] = {k: v for k, v in r.items() if k != "samples"}
            if t == "latency":
                entry["_latency_samples"] = r["samples"]
            report.write(rep, out)

        run_tasks(engine, ctx, tasks, log, on_done=done)
        del engine
        gc.collect()
    for path in options.compare:
        old = json.loads(Path(path).read_text())
        for c in old.get("candidates", []):
            rep["candidates"].append(c | {"name": c["name"] if all(c["name"] != x["name"] for x in rep["candidates"])
                                          else f"{c['name']} ({Path(path).parent.name})",
                                          # a candidate the old report itself compared keeps its first home
                                          "from": c.get("from", path),
                                          "original_name": c.get("original_name", c["name"])})
    from training.evaluate import paired

    rep["paired"] = paired.compare_report(rep, out)
    report.write(rep, out)
    log(f"wrote {out / 'report.md'}, {out / 'report.json'}" + "".join(f", {out / p}" for p in rep["plots"]))
    return rep
