"""`wingman collect | clean | annotate | pack | train | export`: one subcommand per training step.

Each takes `--config FILE.yaml`, a few common options, and `--set key=value` for any other field
(dotted for nested ones, e.g. `--set translate.enabled=true`). Command-line values win over the file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

# step -> (help, input option, output option, extra options)
STEPS = {
    "collect": ("gather source files with provenance", None, "output"),
    "clean": ("filter, dedupe, redact and decontaminate", "input", "output"),
    "annotate": ("FIM samples and instruction pairs", "input", "output"),
    "pack": ("tokenize and pack into train/validation datasets", "input", "output"),
    "train": ("fine-tune (LoRA or full) with accelerate", "data", "output"),
    "export": ("write a loadable checkpoint with wingman.json", "train", "output"),
}


def add(sub: argparse._SubParsersAction, name: str) -> None:
    help_text, inp, out = STEPS[name]
    p = sub.add_parser(name, help=help_text)
    p.add_argument("--config", metavar="FILE.yaml", help="step config (see training/configs/)")
    if inp:
        p.add_argument(f"--{inp}", dest=inp, metavar="DIR", help="the previous step's output directory")
    p.add_argument(f"--{out}", dest=out, metavar="DIR", help="this step's output directory")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override any config field")
    keys = [k for k in (inp, out) if k]
    if name in ("collect", "clean"):
        p.add_argument("--resume", dest="resume", action="store_true", default=None,
                       help="skip the packages a killed run finished (same config and input)")
        keys.append("resume")
    if name == "collect":
        p.add_argument("--dir", action="append", default=[], help="a source directory (repeatable)")
        p.add_argument("--git", action="append", default=[], help="a git URL or local repository (repeatable)")
        p.add_argument("--manifest", action="append", default=[], help="sdists to pip-download: name==version lines")
        p.add_argument("--npm", action="append", default=[], help="npm packages to `npm pack`: name==version lines")
        p.add_argument("--site-packages", action="append", default=[], help="a site-packages directory ('' = this env)")
    elif name in ("annotate", "pack"):
        p.add_argument("--tokenizer", help="'default' or a model directory")
        keys.append("tokenizer")
        if name == "pack":
            p.add_argument("--seq-len", dest="seq_len", type=int)
            keys.append("seq_len")
    elif name == "train":
        p.add_argument("--base-model", dest="base_model", help="'default' or a checkpoint directory")
        p.add_argument("--mode", choices=["lora", "full"])
        p.add_argument("--max-steps", dest="max_steps", type=int)
        p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the output")
        keys += ["base_model", "mode", "max_steps"]
    elif name == "export":
        p.add_argument("--merge", dest="merge", action="store_true", default=None, help="merge the adapter (default)")
        p.add_argument("--adapter", dest="merge", action="store_false", help="keep the peft adapter")
        p.add_argument("--eval-results", dest="eval_results", help="JSON results from `wingman eval`")
        keys += ["merge", "eval_results"]
    p.set_defaults(func=_guard(run), step=name, keys=keys)


def _guard(fn):
    def run(args) -> int:
        from training.config import ConfigError, StepError

        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        try:
            return fn(args) or 0
        except (ConfigError, StepError, FileNotFoundError) as exc:
            print(f"wingman {args.command}: {exc}", file=sys.stderr)
            return 2
    return run


def _config(args):
    from training import config as C

    classes = {"collect": C.CollectConfig, "clean": C.CleanConfig, "annotate": C.AnnotateConfig,
               "pack": C.PackConfig, "train": C.TrainConfig, "export": C.ExportConfig}
    overrides = {k: getattr(args, k) for k in args.keys if getattr(args, k, None) is not None}
    if args.step == "collect":
        sources = [{"kind": "dir", "path": d} for d in args.dir] + [{"kind": "git", "path": g} for g in args.git]
        sources += [{"kind": "sdist", "manifest": m} for m in args.manifest]
        sources += [{"kind": "npm", "manifest": m} for m in args.npm]
        sources += [{"kind": "site-packages", "path": s} for s in args.site_packages]
        if sources:  # sources on the command line replace the file's
            overrides["sources"] = sources
    return C.load_config(classes[args.step], args.config, overrides, args.set)


def _report(report: dict) -> None:
    brief = {k: v for k, v in report.items()
             if k in ("step", "counts", "splits", "languages", "decontamination", "near_dedupe", "timing")}
    if "decontamination" in brief:
        brief["decontamination"] = {k: v for k, v in brief["decontamination"].items() if k != "contaminated"}
    print(json.dumps(brief, indent=2, default=str))


def run(args) -> int:
    import importlib

    cfg = _config(args)
    step = importlib.import_module(f"training.{args.step}")
    if args.step == "train":
        result = step.run(cfg, resume=args.resume)
        if result:
            print(json.dumps({k: result[k] for k in ("mode", "steps", "final_loss", "final_val_loss")}, indent=2))
    elif args.step == "export":
        meta = step.run(cfg)
        print(json.dumps({"output": cfg.output, "format": meta["format"], "base_model": meta["base_model"]}, indent=2))
    else:
        _report(step.run(cfg))
    return 0
