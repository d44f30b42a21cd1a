"""Fit the confidence gate (model/gate.py) on the validation packages' candidates, never the test ones.

    python -m training.evaluate.gate_fit EVAL_OUT/samples/NAME/crossfile.jsonl [--out model/gate_model.json]

The input is what `wingman eval --tasks crossfile` writes: per hole the context arm's greedy
candidate with its features (gate.features) and outcome. Only rows whose split is "validation"
(crossfile.CALIBRATE: funcy, glom) are read; a file without any is an error, so a test package
can never end up in the fit. The candidates are cached by the eval (crossfile.CandidateCache):
changing a feature means rerunning the eval (no model call) and then this.

The model: logistic regression on standardized features, L2-penalized (few positives: a few
dozen), fitted by Newton's method in numpy. The penalty is chosen by grouped cross-validation
on the validation rows (folds by file, so holes of one file never sit on both sides), scored by
what the gate is for: precision among the top TARGET_SHOWN of each held-out fold. The threshold
is then the highest one that still shows TARGET_SHOWN of the validation requests.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from model import gate
from training.evaluate.crossfile import CALIBRATE, TARGET_SHOWN

PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # L2 strength, in units of the sum of squared standardized weights
FOLDS = 5
COMMENT_SHOWN = 0.25  # inside comments and strings the bar is the score of the validation's top quarter


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    val = [r for r in rows if r.get("split") == "validation"]
    bad = {r["repo"] for r in val if r["repo"].split("==")[0] not in CALIBRATE}
    if bad:
        raise SystemExit(f"validation rows from packages outside {CALIBRATE}: {sorted(bad)}")
    if not val:
        raise SystemExit(f"{path}: no validation rows (run the crossfile eval with the validation packages)")
    return [r for r in val if r["context"].get("prediction")]


def target(row: dict, kind: str) -> float:
    c = row["context"]
    if kind == "exact_match":
        return float(c["exact_match"])
    return float(c["edit_similarity"] >= 0.9)


def fit(X: np.ndarray, y: np.ndarray, l2: float, iters: int = 50) -> np.ndarray:
    """Weights (bias last) of the penalized logistic regression; the bias is not penalized."""
    Xb = np.hstack([X, np.ones((len(X), 1))])
    w = np.zeros(Xb.shape[1])
    pen = np.full(Xb.shape[1], l2)
    pen[-1] = 0.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(Xb @ w, -30, 30)))
        grad = Xb.T @ (p - y) + pen * w
        hess = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def top_precision(scores: np.ndarray, y: np.ndarray, share: float = TARGET_SHOWN) -> float:
    k = max(1, int(math.ceil(len(scores) * share)))
    return float(y[np.argsort(-scores, kind="stable")[:k]].mean())


def folds(rows: list[dict], k: int = FOLDS) -> list[int]:
    """A fold per row, by file (sorted, round robin): holes of one file stay together."""
    files = sorted({(r["repo"], r["path"]) for r in rows})
    index = {f: i % k for i, f in enumerate(files)}
    return [index[(r["repo"], r["path"])] for r in rows]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples", type=Path, help="crossfile.jsonl from `wingman eval --tasks crossfile`")
    ap.add_argument("--out", type=Path, default=gate.MODEL_FILE)
    ap.add_argument("--target", choices=("exact_match", "es90"), default="exact_match")
    args = ap.parse_args(argv)

    rows = load(args.samples)
    names = [n for n in rows[0]["context"]["features"]]
    names = [n for n in names if len({r["context"]["features"].get(n) for r in rows}) > 1]  # constant: no signal
    X = np.array([[r["context"]["features"].get(n, 0.0) for n in names] for r in rows], dtype=float)
    y = np.array([target(r, args.target) for r in rows])
    mu, sd = X.mean(0), X.std(0)
    sd[sd == 0] = 1.0
    Z = (X - mu) / sd
    fold = np.array(folds(rows))
    cv = {}
    for l2 in PENALTIES:
        scores = np.zeros(len(y))
        for f in range(FOLDS):
            tr, te = fold != f, fold == f
            if y[tr].sum() == 0 or te.sum() == 0:
                continue
            w = fit(Z[tr], y[tr], l2)
            scores[te] = Z[te] @ w[:-1] + w[-1]
        cv[l2] = top_precision(scores, y)
    best = max(PENALTIES, key=lambda l2: (round(cv[l2], 6), l2))  # ties: the stronger penalty
    w = fit(Z, y, best)
    model = {"features": names, "mean": mu.round(6).tolist(), "std": sd.round(6).tolist(),
             "weights": w[:-1].round(6).tolist(), "bias": round(float(w[-1]), 6)}
    probs = np.array([gate.learned_score(r["context"]["features"], model) for r in rows])
    # The highest threshold that still shows TARGET_SHOWN of all validation requests (empty ones
    # included: they show nothing whatever the threshold).
    n_all = sum(1 for line in args.samples.read_text().splitlines() if '"split": "validation"' in line)
    need = int(math.ceil(TARGET_SHOWN * n_all))
    ordered = np.sort(probs)[::-1]
    threshold = float(math.floor(ordered[min(need, len(ordered)) - 1] * 1e4) / 1e4) if need <= len(ordered) else 0.0
    comment = float(math.floor(ordered[max(0, int(math.ceil(COMMENT_SHOWN * n_all)) - 1)] * 1e4) / 1e4)
    model |= {"threshold": threshold, "comment_threshold": max(threshold, comment), "target": args.target, "l2": best,
              "cv_top_precision": {str(k): round(v, 4) for k, v in cv.items()},
              "fitted_on": sorted({r["repo"] for r in rows}), "n": int(len(y)), "positives": int(y.sum()),
              "shown_at_threshold": round(float((probs >= threshold).sum()) / n_all, 4),
              "source": "python -m training.evaluate.gate_fit " + str(args.samples)}
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    print(json.dumps({k: v for k, v in model.items() if k not in ("mean", "std")}, indent=1))
    for n, wt in sorted(zip(names, model["weights"]), key=lambda t: -abs(t[1])):
        print(f"  {n:20} {wt:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
