"""Step 3a of `wingman learn`: training samples from the repository's training files, through the
corpus pipeline's own annotate and pack steps (the FIM samples the server's prompt window renders),
plus the acceptance log's accepted suggestions as extra FIM samples.

The training files are repository "train", the validation files repository "validation"
(pack splits by repository: `val_repos` puts the latter in the validation split).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from training.learn.split import Split

TRAIN, VALIDATION = "train", "validation"


def accepted_samples(root: Path, split: Split, log_path: Path | None = None) -> list[dict]:
    """Accepted and typed-through suggestions made in this repository's training files. Held-out
    and validation files' are left out (they would leak into the check); so are suggestions in
    files outside the repository."""
    from model import acceptance_log

    train_paths = {str((root / f.path).resolve()) for f in split.train}
    out = []
    for row in acceptance_log.read(log_path):
        if row["fate"] not in ("accepted", "typed"):
            continue
        try:
            path = str(Path(row.get("path", "")).resolve())
        except (OSError, ValueError):
            continue
        if path in train_paths:
            out.append(row)
    return out


def build(split: Split, root: Path, work: Path, tokenizer, seq_len: int, fim_per_file: int, seed: int,
          budget: int, accepted: list[dict], accept_weight: int) -> dict:
    """Write annotate/ and pack/ under `work`; the pack report, with the sample counts."""
    from training import pack
    from training.annotate import Annotator, ChatRenderer, fim_builders, fim_sample
    from training.config import AnnotateConfig, PackConfig
    from training.io import ShardWriter, write_json

    counts: Counter = Counter()
    # Samples must fit a training sequence whole (pack cuts longer ones, parting the middle from its
    # markers): the prompt window is narrowed to 3/4 of it, the rest left for the middle.
    budget = min(budget, seq_len * 3 // 4)
    ann_dir = work / "annotate"
    cfg = AnnotateConfig(input="", output=str(ann_dir), seed=seed, fim_per_file=fim_per_file, fim_budget=budget,
                         docstring_pairs=False, test_pairs=False)
    with ShardWriter(ann_dir, "data") as writer:
        ann = Annotator(cfg, writer, ChatRenderer(tokenizer), counts)
        for repo, files in ((TRAIN, split.train), (VALIDATION, split.validation)):
            for f in files:
                ann.file({"repo": repo, "path": f.path, "language": f.language, "text": f.text})
        # The user's accepted suggestions, in the order the server sends (suffix first), weighted.
        spm = fim_builders(tokenizer)["spm"]
        for row in accepted:
            rec = {"repo": TRAIN, "path": row["path"], "language": row.get("language")}
            for _ in range(accept_weight):
                ann.emit("fim_accepted", rec, fim_sample(spm, row["prefix"], row["suggestion"], row["suffix"], budget))
    write_json(ann_dir / "report.json", {"step": "annotate", "counts": dict(counts)})
    report = pack.run(PackConfig(input=str(ann_dir), output=str(work / "pack"), seq_len=seq_len,
                                 val_fraction=0.0, val_repos=[VALIDATION], seed=seed), tokenizer=tokenizer)
    report["samples"] = dict(counts)
    return report
