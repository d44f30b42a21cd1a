"""`wingman expert`: one round of expert iteration (training/expert.py); training is imported only
when the command runs, so `wingman --help` stays fast."""

from __future__ import annotations

import argparse

KEYS = ("input", "output", "round", "model", "adapter", "limit", "budget_minutes")


def add(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="sample tests and translations for corpus functions, keep the verified ones")
    p.add_argument("--config", metavar="FILE.yaml", help="an ExpertConfig YAML (training/config.py)")
    p.add_argument("--input", help="the cleaned corpus (clean's output)")
    p.add_argument("--output", help="rounds go to OUTPUT/round-N/")
    p.add_argument("--round", type=int)
    p.add_argument("--model", help="'default' (base + shipped adapter), 'base', a checkpoint or .gguf")
    p.add_argument("--adapter", help="a peft adapter: the one trained on the previous round's records")
    p.add_argument("--limit", type=int, help="functions tried at most")
    p.add_argument("--budget-minutes", dest="budget_minutes", type=float, help="no new function after this")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    p.set_defaults(func=_run)


def _run(args) -> int:
    import json
    import logging
    import sys

    from training import expert
    from training.config import ConfigError, ExpertConfig, StepError, load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        cfg = load_config(ExpertConfig, args.config, {k: getattr(args, k) for k in KEYS}, args.set)
        report = expert.run(cfg)
    except (ConfigError, StepError, FileNotFoundError) as exc:
        print(f"wingman expert: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: report[k] for k in ("round", "model", "functions", "samples", "verified_pairs", "yield",
                                             "seconds")}, indent=2))
    return 0
