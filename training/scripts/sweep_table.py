"""The sweep's table (Markdown) from runs/wingman-v1/sweep/<name>/{train/train.json, eval/report.json}.

python -m training.scripts.sweep_table runs/wingman-v1/sweep
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = [("line", "exact_match", "line EM"), ("line", "edit_similarity", "line ES"),
           ("infill", "single_exact_match", "1-line infill EM"), ("infill", "single_edit_similarity", "1-line infill ES"),
           ("infill", "multi_edit_similarity", "multi-line infill ES")]


def row(run: Path) -> str | None:
    train, report = run / "train" / "train.json", run / "eval" / "report.json"
    if not train.exists():
        return None
    t = json.loads(train.read_text())
    c = t["config"]
    cells = [run.name, f"{c['lr']:g}", str(c["lora_r"]), Path(c["data"]).name, str(t["steps"]),
             "–" if t.get("initial_val_loss") is None else f"{t['initial_val_loss']:.3f}", f"{t['final_val_loss']:.3f}"]
    tasks = json.loads(report.read_text())["candidates"][0]["tasks"] if report.exists() else {}
    for task, key, _ in COLUMNS:
        v = tasks.get(task, {}).get("metrics", {}).get(key)
        cells.append("–" if v is None else f"{100 * v:.0f}%")
    return "| " + " | ".join(cells) + " |"


def main(root: str) -> None:
    head = ["run", "lr", "LoRA r", "data", "steps", "val loss at 0", "val loss after"] + [c[2] for c in COLUMNS]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    for run in sorted(Path(root).iterdir()):
        r = row(run) if run.is_dir() else None
        if r:
            print(r)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/wingman-v1/sweep")
