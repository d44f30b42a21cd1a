"""Validation loss of a finished run on the first N sequences of a pack's validation split —
one yardstick for sweep runs whose own evaluation used a different micro-batch size.

python -m training.scripts.val_loss RUN_DIR PACK_DIR [N]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch


def main(run: str, pack: str, n: int = 32) -> float:
    import datasets
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.config import resolve_base_model
    from training.io import read_json
    from training.train import trained_loss_sum

    final = Path(run) / "final"
    summary = read_json(Path(run) / "train.json")
    tok = AutoTokenizer.from_pretrained(final)
    model = AutoModelForCausalLM.from_pretrained(resolve_base_model(summary["base_model"]), dtype=torch.float32)
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    model = PeftModel.from_pretrained(model, final).eval()
    ds = datasets.load_from_disk(str(Path(pack) / "validation"))
    loss_sum, tokens = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, min(n, len(ds)), 4):
            rows = ds[i:min(i + 4, n)]
            ids, labels = torch.tensor(rows["input_ids"]), torch.tensor(rows["labels"])
            loss_sum += float(trained_loss_sum(model, ids, labels))
            tokens += int((labels[:, 1:] != -100).sum())
    return loss_sum / max(tokens, 1)


if __name__ == "__main__":
    print(f"{main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 32):.4f}")
