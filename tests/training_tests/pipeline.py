"""The data steps run in-process on a small tree, shared by the tests."""

from __future__ import annotations

from pathlib import Path

from training import annotate, clean, collect, pack
from training.config import AnnotateConfig, CleanConfig, CollectConfig, PackConfig, SourceConfig


def run_data_steps(repos: list[Path], out: Path, tokenizer, seq_len: int = 64, **annotate_kw) -> dict:
    reports = {}
    reports["collect"] = collect.run(CollectConfig(
        output=str(out / "collect"), sources=[SourceConfig(kind="dir", path=str(r)) for r in repos], heldout=""))
    reports["clean"] = clean.run(CleanConfig(input=str(out / "collect"), output=str(out / "clean"), heldout="",
                                             heldout_fetch=False))
    reports["annotate"] = annotate.run(AnnotateConfig(input=str(out / "clean"), output=str(out / "annotate"),
                                                      **annotate_kw), tokenizer=tokenizer)
    reports["pack"] = pack.run(PackConfig(input=str(out / "annotate"), output=str(out / "pack"), seq_len=seq_len,
                                          val_fraction=0.5), tokenizer=tokenizer)
    return reports
