"""`wingman bench`: prefill, decode and keystroke latency against HF generate(), same run."""

from __future__ import annotations

import argparse

from wingman.engine_flags import add_engine_flags, engine_config


def add(sub: argparse._SubParsersAction, name: str) -> None:
    b = sub.add_parser(name, help="measure prefill, decode and keystroke latency against HF generate()")
    add_engine_flags(b)
    b.add_argument("--tokens", type=int, default=64)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--out", default=None, help="write the results as JSON here")
    b.add_argument("--skip-baseline", action="store_true")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from model.bench import run_bench

    run_bench(engine_config(args), tokens=args.tokens, repeats=args.repeats, out=args.out,
              skip_baseline=args.skip_baseline)
    return 0
