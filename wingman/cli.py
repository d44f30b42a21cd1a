"""The table of `wingman` subcommands. Each row names the module that adds its parser; the
modules import their libraries only when the command runs, so `wingman --help` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> the module whose `add(subparsers, name)` defines it
COMMANDS: dict[str, str] = {
    "model": "wingman.commands.models",
    "complete": "wingman.commands.complete",
    "bench": "wingman.commands.bench",
    "serve": "wingman.commands.serve",
    "demo": "wingman.commands.serve",
    "collect": "wingman.commands.training",
    "clean": "wingman.commands.training",
    "annotate": "wingman.commands.training",
    "pack": "wingman.commands.training",
    "train": "wingman.commands.training",
    "export": "wingman.commands.training",
    "expert": "wingman.commands.expert",
    "eval": "wingman.commands.evaluate",
    "learn": "wingman.commands.learn",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wingman", description="A private, local AI code assistant.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module).add(sub, name)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
