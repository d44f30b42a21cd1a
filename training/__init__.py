"""Wingman's training package: collect → clean → annotate → pack → train → export.

Each step is a `wingman` subcommand (see wingman/commands/training.py) with its own output directory and a YAML
config (training/config.py); steps talk only through files, so any step can be rerun or replaced.
"""
