"""`wingman collect | clean | annotate | pack | train | export`: one subcommand per step.

Each takes `--config FILE.yaml`, a few common options, and `--set key=value` for any other field
(dotted for nested ones, e.g. `--set translate.enabled=true`). Command-line values win over the file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from training import config as C


def _common(p: argparse.ArgumentParser, *, inp: str | None = "input", out: str = "output") -> None:
    p.add_argument("--config", metavar="FILE.yaml", help="step config (see training/configs/)")
    if inp:
        p.add_argument(f"--{inp}", dest=inp, metavar="DIR", help="the previous step's output directory")
    p.add_argument(f"--{out}", dest=out, metavar="DIR", help="this step's output directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")


def _parse_sets(items: list[str]) -> dict:
    import yaml

    out: dict = {}
    for item in items:
        if "=" not in item:
            raise C.ConfigError(f"--set wants key=value, got {item!r}")
        k, v = item.split("=", 1)
        C._set(out, k.strip(), yaml.safe_load(v))
    return out


def _merge_sets(base: dict, sets: dict) -> dict:
    for k, v in sets.items():
        base[k] = _merge_sets(dict(base.get(k) or {}), v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return base


def _report(report: dict) -> None:
    brief = {k: v for k, v in report.items() if k in ("step", "counts", "splits", "languages", "decontamination")}
    if "decontamination" in brief:
        brief["decontamination"] = {k: v for k, v in brief["decontamination"].items() if k != "contaminated"}
    print(json.dumps(brief, indent=2, default=str))


def _guard(fn):
    def run(args) -> int:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        try:
            return fn(args) or 0
        except (C.ConfigError, C.StepError, FileNotFoundError) as exc:
            print(f"wingman {args.command}: {exc}", file=sys.stderr)
            return 2
    return run


def _read_yaml(path: str | None) -> dict:
    import yaml

    if not path:
        return {}
    try:
        data = yaml.safe_load(open(path)) or {}
    except yaml.YAMLError as exc:
        raise C.ConfigError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise C.ConfigError(f"{path}: the config must be a YAML mapping")
    return data


def cmd_collect(args) -> int:
    from training import collect

    sources = [{"kind": "dir", "path": d} for d in args.dir] + [{"kind": "git", "path": g} for g in args.git]
    sources += [{"kind": "sdist", "manifest": m} for m in args.manifest]
    sources += [{"kind": "site-packages", "path": s} for s in args.site_packages]
    data = _read_yaml(args.config)
    if args.output is not None:
        data["output"] = args.output
    if sources:  # sources on the command line replace the file's
        data["sources"] = sources
    data = _merge_sets(data, _parse_sets(args.set))
    _report(collect.run(C.load_config(C.CollectConfig, None, data)))
    return 0


def _merged_load(cls, args, keys: list[str]):
    data = _read_yaml(args.config)
    data = _merge_sets(data, {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None})
    data = _merge_sets(data, _parse_sets(args.set))
    return C.load_config(cls, None, data)


def cmd_clean(args) -> int:
    from training import clean

    _report(clean.run(_merged_load(C.CleanConfig, args, ["input", "output"])))
    return 0


def cmd_annotate(args) -> int:
    from training import annotate

    _report(annotate.run(_merged_load(C.AnnotateConfig, args, ["input", "output", "tokenizer"])))
    return 0


def cmd_pack(args) -> int:
    from training import pack

    _report(pack.run(_merged_load(C.PackConfig, args, ["input", "output", "tokenizer", "seq_len"])))
    return 0


def cmd_train(args) -> int:
    from training import train

    cfg = _merged_load(C.TrainConfig, args, ["data", "output", "base_model", "mode", "max_steps"])
    result = train.run(cfg, resume=args.resume)
    if result:
        print(json.dumps({k: result[k] for k in ("mode", "steps", "final_loss", "final_val_loss")}, indent=2))
    return 0


def cmd_export(args) -> int:
    from training import export

    cfg = _merged_load(C.ExportConfig, args, ["train", "output", "merge", "eval_results"])
    meta = export.run(cfg)
    print(json.dumps({"output": cfg.output, "format": meta["format"], "base_model": meta["base_model"]}, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("collect", help="gather source files with provenance")
    _common(p, inp=None)
    p.add_argument("--dir", action="append", default=[], help="a source directory (repeatable)")
    p.add_argument("--git", action="append", default=[], help="a git URL or local repository (repeatable)")
    p.add_argument("--manifest", action="append", default=[], help="sdists to pip-download: name==version lines")
    p.add_argument("--site-packages", action="append", default=[], help="a site-packages directory ('' = this env)")
    p.set_defaults(func=_guard(cmd_collect))

    p = sub.add_parser("clean", help="filter, dedupe, redact and decontaminate")
    _common(p)
    p.set_defaults(func=_guard(cmd_clean))

    p = sub.add_parser("annotate", help="FIM samples and instruction pairs")
    _common(p)
    p.add_argument("--tokenizer", help="'default' or a model directory (its chat template)")
    p.set_defaults(func=_guard(cmd_annotate))

    p = sub.add_parser("pack", help="tokenize and pack into train/validation datasets")
    _common(p)
    p.add_argument("--tokenizer", help="'default' or a model directory")
    p.add_argument("--seq-len", dest="seq_len", type=int)
    p.set_defaults(func=_guard(cmd_pack))

    p = sub.add_parser("train", help="fine-tune (LoRA or full) with accelerate")
    _common(p, inp="data")
    p.add_argument("--base-model", dest="base_model", help="'default' or a checkpoint directory")
    p.add_argument("--mode", choices=["lora", "full"])
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the output")
    p.set_defaults(func=_guard(cmd_train))

    p = sub.add_parser("export", help="write a loadable checkpoint with wingman.json")
    _common(p, inp="train")
    p.add_argument("--merge", dest="merge", action="store_true", default=None, help="merge the adapter (default)")
    p.add_argument("--adapter", dest="merge", action="store_false", help="keep the peft adapter")
    p.add_argument("--eval-results", dest="eval_results", help="JSON results from `wingman eval`")
    p.set_defaults(func=_guard(cmd_export))
