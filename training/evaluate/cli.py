"""`wingman eval`: score the base model and candidate checkpoints side by side.

    wingman eval --limit 20 --out eval-out
    wingman eval --candidate ft=checkpoints/run1/final --tasks line,infill,humaneval --limit 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

TASKS = ("line", "infill", "humaneval", "tests", "translate", "latency")


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="evaluate checkpoints: completion, infilling, HumanEval, tests, "
                              "translation, latency", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="base", help="the base model: 'base' (SmolLM2-135M-Instruct as pulled), 'default' "
                   "(base + the shipped Wingman adapter), a checkpoint directory or a .gguf; candidate adapters apply to it")
    p.add_argument("--adapter", default=None, help="a peft adapter merged into the base model")
    p.add_argument("--name", default="base", help="the base model's column in the report")
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH",
                   help="a checkpoint directory, 'default' (the shipped model), or a peft adapter directory "
                   "(applied to --model); repeatable")
    p.add_argument("--no-base", action="store_true", help="evaluate only the candidates")
    p.add_argument("--compare", action="append", default=[], metavar="REPORT.json",
                   help="add the candidates of an earlier report (flagged when their samples differ)")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from: {','.join(TASKS)}")
    p.add_argument("--limit", type=int, default=20, help="samples per task (0: all)")
    p.add_argument("--seed", type=int, default=1234, help="hole and problem selection")
    p.add_argument("--out", default="eval-out", help="directory for report.json, report.md, plots, samples/")
    p.add_argument("--manifest", default=None, help="held-out repositories (default: training/corpus/heldout.txt)")
    p.add_argument("--repo", action="append", default=[], metavar="DIR",
                   help="use these source trees as held-out repositories instead of the manifest")
    p.add_argument("--budget", type=int, default=1024, help="prompt token budget per completion")
    p.add_argument("--no-repo-tests", action="store_true", help="score infilling by exact match only")
    p.add_argument("--backend", default="local", choices=["local", "remote", "fake"])
    p.add_argument("--fake-spec", default=None, help="JSON for the fake engine (tests)")
    p.add_argument("--remote-url", default="", help="backend remote: an OpenAI-compatible server's /v1 URL")
    p.add_argument("--remote-model", default="")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quantize", default="auto", choices=["auto", "none", "int8", "int4"])
    p.add_argument("--threads", type=int, default=0)
    p.set_defaults(func=cmd_eval)


def _candidates(args) -> list[dict]:
    out = [] if args.no_base else [{"name": args.name, "model": args.model, "adapter": args.adapter}]
    for spec in args.candidate:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--candidate takes NAME=PATH, got {spec!r}")
        if (Path(path) / "adapter_config.json").is_file():
            out.append({"name": name, "model": args.model, "adapter": path})
        else:
            out.append({"name": name, "model": path, "adapter": None})
    names = [c["name"] for c in out]
    if len(set(names)) != len(names):
        raise SystemExit(f"candidate names must differ: {names}")
    return out


def _load(args, cand: dict):
    from model.config import EngineConfig
    from model.factory import load_engine

    fake = json.loads(args.fake_spec) if args.fake_spec else None
    config = EngineConfig(backend=args.backend, model=cand["model"], adapter=cand["adapter"], device=args.device,
                          quantize=args.quantize, threads=args.threads, fake=fake, remote_url=args.remote_url,
                          remote_model=args.remote_model or cand["model"])
    return load_engine(config)


def run_tasks(engine, ctx, tasks: list[str], log, on_done=None) -> dict:
    """Run `tasks` in order; `on_done(task, result)` after each (the report is rewritten then, so
    a long run that stops early keeps what it finished)."""
    from training.evaluate import codegen, completion, latency

    runners = {"line": completion.run_line, "infill": completion.run_infill, "humaneval": codegen.run_humaneval,
               "tests": codegen.run_gentests, "translate": codegen.run_translate, "latency": latency.run_latency}
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


def evaluate(args, log=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    from training.evaluate import heldout, report, sandbox
    from training.evaluate.context import EvalContext

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = set(tasks) - set(TASKS)
    if unknown:
        raise SystemExit(f"unknown tasks {sorted(unknown)}; choose from {','.join(TASKS)}")
    needs_repos = set(tasks) & {"line", "infill", "tests", "translate", "latency"}
    if args.repo:
        repos = [heldout.local_repo(r) for r in args.repo]
    elif needs_repos:
        repos = heldout.load_repos(args.manifest or heldout.MANIFEST)
    else:
        repos = []
    ctx = EvalContext(repos=repos, limit=args.limit or None, seed=args.seed, budget=args.budget,
                      run_repo_tests=not args.no_repo_tests, log=log)
    out = Path(args.out)
    rep = {
        "wingman_eval": 1,
        "created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": (["python", "-m", "training.evaluate.cli"] if sys.argv[0].endswith("cli.py")
                    else [Path(sys.argv[0]).name]) + sys.argv[1:],
        "settings": {"tasks": tasks, "limit": args.limit or None, "seed": args.seed, "budget": args.budget,
                     "repo_tests": not args.no_repo_tests},
        "heldout": [r.key for r in repos],
        "sandbox": sandbox.capabilities([sandbox.python_executable(), sandbox.node_executable() or "node"]),
        "candidates": [],
    }
    for cand in _candidates(args):
        log(f"== {cand['name']}: loading {cand['model']}" + (f" + {cand['adapter']}" if cand["adapter"] else ""))
        engine = _load(args, cand)
        entry = cand | {"engine": asdict(engine.info), "tasks": {}}
        rep["candidates"].append(entry)
        samples_dir = out / "samples" / cand["name"]
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
    for path in args.compare:
        old = json.loads(Path(path).read_text())
        for c in old.get("candidates", []):
            rep["candidates"].append(c | {"name": c["name"] if all(c["name"] != x["name"] for x in rep["candidates"])
                                          else f"{c['name']} ({Path(path).parent.name})", "from": path})
    report.write(rep, out)
    log(f"wrote {out / 'report.md'}, {out / 'report.json'}" + "".join(f", {out / p}" for p in rep["plots"]))
    return rep


def cmd_eval(args) -> int:
    from model.engine import EngineError

    try:
        evaluate(args)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wingman")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
