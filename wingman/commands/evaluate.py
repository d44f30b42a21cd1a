"""`wingman eval`: score the base model and candidate checkpoints side by side.

    wingman eval --limit 20 --out eval-out
    wingman eval --candidate ft=checkpoints/run1/final --tasks line,infill,humaneval --limit 50
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from wingman.engine_flags import add_engine_flags, engine_config

from training.evaluate.run import TASKS


def add(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="evaluate checkpoints: completion, infilling, HumanEval, tests, "
                       "translation, latency", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="base", help="the base model: 'base' (SmolLM2-135M-Instruct as pulled), 'default' "
                   "(base + the shipped Wingman adapter), a checkpoint directory or a .gguf; candidate adapters apply to it")
    p.add_argument("--adapter", default=None, help="a peft adapter merged into the base model")
    p.add_argument("--name", default="base", help="the base model's column in the report")
    p.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH",
                   help="a checkpoint directory, 'default' (the shipped model), or a peft adapter directory "
                   "(applied to --model); repeatable")
    p.add_argument("--candidate-option", action="append", default=[], metavar="NAME:KEY=VALUE",
                   help="an engine option for one candidate only, e.g. today:kernels=int4/bf16/bfloat16 "
                   "(compare engines on the same samples in one run); repeatable")
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
    p.add_argument("--translate-targets", default="javascript",
                   help="comma-separated targets of the translate task (javascript, typescript)")
    p.add_argument("--translate-candidates", type=int, default=4, help="candidates per translation (N)")
    p.add_argument("--translate-budget", type=float, default=90.0, help="seconds per translation before no new sample")
    p.add_argument("--fake-spec", default=None, help="JSON for the fake engine (tests)")
    add_engine_flags(p, only=("backend", "device", "quantize", "dtype", "threads", "remote_url", "remote_model",
                              "remote_api_key", "max_context"))
    p.set_defaults(func=run)


def candidates(args: argparse.Namespace):
    from training.evaluate.run import Candidate

    out = [] if args.no_base else [Candidate(args.name, args.model, args.adapter)]
    for spec in args.candidate:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--candidate takes NAME=PATH, got {spec!r}")
        if (Path(path) / "adapter_config.json").is_file():
            out.append(Candidate(name, args.model, path))
        else:
            out.append(Candidate(name, path, None))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise SystemExit(f"candidate names must differ: {names}")
    by_name = {c.name: c for c in out}
    for spec in args.candidate_option:
        name, _, kv = spec.partition(":")
        key, eq, value = kv.partition("=")
        if name not in by_name or not eq:
            raise SystemExit(f"--candidate-option takes NAME:KEY=VALUE for a candidate of {names}, got {spec!r}")
        by_name[name].engine[key.replace("-", "_")] = value
    return out


def run(args: argparse.Namespace) -> int:
    from model.engine import EngineError
    from training.evaluate.run import EvalOptions, evaluate

    fake = json.loads(args.fake_spec) if args.fake_spec else None
    options = EvalOptions(
        candidates=candidates(args), engine=engine_config(args, fake=fake),
        tasks=[t.strip() for t in args.tasks.split(",") if t.strip()], limit=args.limit or None, seed=args.seed,
        out=args.out, manifest=args.manifest, repos=args.repo, budget=args.budget, repo_tests=not args.no_repo_tests,
        compare=args.compare, command=[Path(sys.argv[0]).name, *sys.argv[1:]],
        translate={"targets": [t.strip() for t in args.translate_targets.split(",") if t.strip()],
                   "candidates": args.translate_candidates, "budget_s": args.translate_budget},
    )
    try:
        evaluate(options)
    except (EngineError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
