"""Command-line flags made from the engine's options (model/config.py: EngineConfig), so every
command that loads a model spells and checks them the same way as the server's settings."""

from __future__ import annotations

import argparse
import typing
from collections.abc import Sequence
from dataclasses import fields

from model.config import EngineConfig
from model.configs import Problem, structure

ALIASES = {"backend": ("--engine",)}  # `wingman serve --engine fake`, as editors and tests spell it
HIDDEN = {"fake"}  # a FakeEngine spec is a dict: set it through settings or --fake-spec


def add_engine_flags(p: argparse.ArgumentParser, only: Sequence[str] | None = None,
                     defaults: dict | None = None) -> None:
    """Flags named after the fields (`--remote-url`); unset flags stay None, so a caller can
    tell "not given" from a default."""
    hints = typing.get_type_hints(EngineConfig)
    group = p.add_argument_group("model")
    for f in fields(EngineConfig):
        if f.name in HIDDEN or (only is not None and f.name not in only):
            continue
        default = (defaults or {}).get(f.name, f.default)
        kind = hints[f.name]
        group.add_argument(
            "--" + f.name.replace("_", "-"), *ALIASES.get(f.name, ()), dest=f.name, default=None,
            type=int if kind is int else None, choices=f.metadata.get("choices"), metavar=None if f.metadata.get("choices") else f.name.upper(),
            help=f"{f.metadata.get('help', '')} (default: {default!r})",
        )


def given(args: argparse.Namespace) -> dict:
    """The engine flags the user actually gave, by field name."""
    return {f.name: getattr(args, f.name) for f in fields(EngineConfig)
            if f.name not in HIDDEN and getattr(args, f.name, None) is not None}


def engine_config(args: argparse.Namespace, base: EngineConfig | None = None, **extra) -> EngineConfig:
    """The flags (and `extra` fields) over `base`, checked as the server checks its settings;
    exits with the problem."""
    config, problems = structure(EngineConfig, {**given(args), **{k: v for k, v in extra.items() if v is not None}},
                                 base or EngineConfig())
    if problems:
        raise SystemExit("wingman: " + "; ".join(describe(p) for p in problems))
    return config


def describe(p: Problem) -> str:
    if p.kind == "rejected":
        return p.expected
    return f"--{p.path.replace('_', '-')}: expected {p.expected}, got {p.value!r}"
