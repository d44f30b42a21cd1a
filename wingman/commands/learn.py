"""`wingman learn [PATH]`: train an adapter on this repository, check it, install it on a win.

The run is niced and uses all cores but one, so the editor stays responsive. `--json` prints one
JSON object a line (what the language server turns into `$/progress`); otherwise plain lines and
the before/after table. `--delete-log` deletes the local acceptance log and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def add(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="learn this repository: a LoRA adapter, checked on held-out files, "
                                  "installed only if it wins")
    p.add_argument("path", nargs="?", default=".", help="the repository (default: the current directory)")
    p.add_argument("--minutes", type=float, help="training budget in minutes (default 20)")
    p.add_argument("--install", choices=("win", "always", "never"), help="when to install (default: on a win)")
    p.add_argument("--resume", action="store_true", help="continue a killed run's training from its checkpoint")
    p.add_argument("--eval-limit", dest="eval_limit", type=int, help="held-out holes per task (default 40)")
    p.add_argument("--ignore", action="append", default=[], metavar="GLOB",
                   help="more files never read (the built-in privacy patterns always apply)")
    p.add_argument("--no-acceptance-log", dest="use_acceptance_log", action="store_false", default=None,
                   help="do not use the local acceptance log as extra signal")
    p.add_argument("--nice", type=int, default=10, help="niceness added to this process (default 10)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option of training/learn/config.py (e.g. min_files=10)")
    p.add_argument("--json", action="store_true", help="one JSON object a line (for the language server)")
    p.add_argument("--delete-log", action="store_true", help="delete the local acceptance log, then exit")
    p.set_defaults(func=run)


def _config(args):
    from training.config import load_config
    from training.learn.config import LearnConfig

    overrides = {"repo": args.path, "minutes": args.minutes, "install": args.install, "eval_limit": args.eval_limit,
                 "use_acceptance_log": args.use_acceptance_log, "resume": args.resume or None,
                 "ignore": args.ignore or None}
    return load_config(LearnConfig, None, overrides, args.set)


def run(args) -> int:
    from training.config import ConfigError, StepError

    if args.delete_log:
        from model import acceptance_log

        gone = acceptance_log.delete()
        print(f"deleted {acceptance_log.log_path()}" if gone else f"no acceptance log at {acceptance_log.log_path()}")
        return 0

    def say(stage: str, message: str, fraction: float | None = None) -> None:
        if args.json:
            print(json.dumps({"learn": stage, "message": message, "fraction": fraction}), flush=True)
        else:
            print(f"[{stage}] {message}", flush=True)

    try:
        cfg = _config(args)
    except ConfigError as exc:
        print(f"wingman learn: {exc}", file=sys.stderr)
        return 2
    if args.nice:
        try:
            os.nice(args.nice)
        except OSError:
            pass
    from server.privacy import is_private  # the one list of files never read (server/privacy.py)
    from training.learn.run import learn

    try:
        result = learn(cfg, lambda p: is_private(p, cfg.ignore), say)
    except (StepError, ConfigError, FileNotFoundError, NotADirectoryError) as exc:
        if args.json:
            print(json.dumps({"learn": "error", "message": str(exc)}), flush=True)
        print(f"wingman learn: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"learn": "result", **{k: result[k] for k in (
            "repository", "won", "installed", "headline", "wall_s", "peak_rss_mib", "table", "training")}}), flush=True)
    else:
        print()
        print(result["table"])
        t = result["training"]
        print(f"\n{t['steps']} training steps in {t['train_s'] / 60:.1f} min; whole run {result['wall_s'] / 60:.1f} min, "
              f"peak memory {result['peak_rss_mib']:.0f} MiB")
    return 0
