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
    b.add_argument("--against-llamacpp", action="store_true",
                   help="time llama.cpp (make llamacpp) on the same GGUF in the same run, and print the ratios")
    b.add_argument("--gguf", default=None, help="with --against-llamacpp: the GGUF (default: the base model's)")
    b.add_argument("--prompt-tokens", type=int, default=512, help="with --against-llamacpp: llama-bench's -p")
    b.add_argument("--context", action="store_true",
                   help="repository context, the gate and alternatives against the plain keystroke path "
                        "(model/context_bench.py), and the workspace index under bad input")
    b.add_argument("--rounds", type=int, default=3, help="with --context: alternating rounds of each arm (20 keystrokes each)")
    b.add_argument("--index-files", type=int, default=50_000, help="with --context: files in the index's workspace")
    b.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from model.bench import run_bench

    if args.context:
        from model import context_bench
        from model.factory import load_engine
        from server import index_bench

        result = context_bench.run(load_engine(engine_config(args)), rounds=args.rounds)
        result["index"] = index_bench.measure(args.index_files)
        context_bench.print_table(result)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0

    if args.against_llamacpp:
        from model import yardstick

        result = yardstick.run(engine_config(args), args.gguf, args.prompt_tokens, args.tokens, args.repeats)
        if args.out:
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0

    run_bench(engine_config(args), tokens=args.tokens, repeats=args.repeats, out=args.out,
              skip_baseline=args.skip_baseline)
    return 0
