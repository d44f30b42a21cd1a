"""Fit the confidence gate (model/gate.py) on the validation packages' candidates, never the test ones.

    python -m training.evaluate.gate_fit EVAL_OUT/samples/NAME/crossfile.jsonl [--out model/gate_model.json]

The input is what `wingman eval --tasks crossfile` writes: per hole the context arm's greedy
candidate with its features (gate.features) and outcome. Only rows whose split is "validation"
or "fit" (both from crossfile.CALIBRATE: funcy, glom) are read; the threshold is calibrated on the
"validation" ones alone (cross-file holes, like the test split); a file without any is an error, so a test package
can never end up in the fit. The candidates are cached by the eval (crossfile.CandidateCache):
changing a feature means rerunning the eval (no model call) and then this.

The model: logistic regression on standardized features, L2-penalized (few positives: a few
dozen), fitted by Newton's method in numpy. The feature set (FEATURE_SETS), the target and the
penalty are chosen on the validation rows alone: fitted on one half of their files, scored on
the other by exact match's average precision (precision at one shown rate saturates with a few
dozen positives: all of them sit in the top half), averaged over SPLITS halvings. The threshold
is then the highest one that still shows TARGET_SHOWN of the validation requests.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from pathlib import Path

import numpy as np

from model import gate
from training.evaluate.crossfile import CALIBRATE, TARGET_SHOWN

PENALTIES = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)  # L2 strength, in units of the sum of squared standardized weights
SPLITS = 40
# Candidate models, compared on the validation packages: the hand-set score alone (the
# regression then only calibrates it into a probability), it with the token-level and text
# features it lacks, and everything (None: all features).
FEATURE_SETS = {
    "hand-set": ["log_legacy"],
    "hand-set+tokens": ["log_legacy", "first_lp", "min_lp", "ran_to_limit", "context_name"],
    "all": None,
}
COMMENT_SHOWN = 0.25  # inside comments and strings the bar is the score of the validation's top quarter


FIT_SPLITS = ("validation", "fit")  # crossfile's validation holes and its extra ones, both from CALIBRATE


def load(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    val = [r for r in rows if r.get("split") in FIT_SPLITS]
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


def average_precision(scores: np.ndarray, y: np.ndarray) -> float:
    """The mean of the precision at each positive's rank: how well the whole ranking puts the
    right candidates first (precision at one shown rate saturates when positives are few)."""
    order = np.argsort(-scores, kind="stable")
    hits = y[order]
    if hits.sum() == 0:
        return 0.0
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((prec * hits).sum() / hits.sum())


def halves(rows: list[dict], em: np.ndarray, n: int = SPLITS) -> list[np.ndarray]:
    """Seeded random halves by file (holes of one file stay together), each side with a few
    positives: a model fitted on one half ranks the other. Not pooled k-fold: with a few dozen
    positives, leaving some out moves each fold's model enough that pooling the folds' scores
    ranks the left-out positives low (a bias against exactly what is measured)."""
    files = sorted({(r["repo"], r["path"]) for r in rows})
    out = []
    for seed in range(n):
        rng = random.Random(seed)
        shuffled = files[:]
        rng.shuffle(shuffled)
        half = set(shuffled[: len(shuffled) // 2])
        te = np.array([(r["repo"], r["path"]) in half for r in rows])
        if em[te].sum() >= 3 and em[~te].sum() >= 3:
            out.append(te)
    if not out:
        raise SystemExit("too few positives on the validation packages to compare models")
    return out


def standardize(rows: list[dict], names: list[str]):
    X = np.array([[r["context"]["features"].get(n, 0.0) for n in names] for r in rows], dtype=float)
    mu, sd = X.mean(0), X.std(0)
    sd[sd == 0] = 1.0
    return (X - mu) / sd, mu, sd


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("samples", type=Path, help="crossfile.jsonl from `wingman eval --tasks crossfile`")
    ap.add_argument("--out", type=Path, default=gate.MODEL_FILE)
    ap.add_argument("--target", choices=("auto", "exact_match", "es90"), default="auto",
                    help="what the regression predicts; auto: whichever cross-validates better (scored by exact match)")
    args = ap.parse_args(argv)

    rows = load(args.samples)
    seen = dict.fromkeys(n for r in rows for n in r["context"]["features"])  # every row's, in order
    present = [n for n in seen if len({r["context"]["features"].get(n) for r in rows}) > 1]  # constant: no signal
    em = np.array([target(r, "exact_match") for r in rows])
    splits = halves(rows, em)
    cv = {}
    for set_name, wanted in FEATURE_SETS.items():
        names = [n for n in (present if wanted is None else wanted) if n in present]
        if not names:
            continue
        Z, _, _ = standardize(rows, names)
        for kind in (("exact_match", "es90") if args.target == "auto" else (args.target,)):
            y = np.array([target(r, kind) for r in rows])
            for l2 in PENALTIES:
                aps = [average_precision(Z[te] @ fit(Z[~te], y[~te], l2)[:-1], em[te]) for te in splits]
                cv[(set_name, kind, l2)] = float(np.mean(aps))  # always judged by exact match: the goal
    # The best set; sets within noise (0.005) of it go to the smaller. Within the set, the best
    # target and penalty, ties to the weaker penalty (the better calibrated probability: a lone
    # feature ranks the same under any penalty).
    top = max(cv.values())
    set_name = min((k[0] for k, v in cv.items() if v >= top - 0.005), key=lambda n: len(FEATURE_SETS[n] or present))
    _, kind, best = max((k for k in cv if k[0] == set_name), key=lambda k: (round(cv[k], 4), -k[2]))
    wanted = FEATURE_SETS[set_name]
    names = [n for n in (present if wanted is None else wanted) if n in present]
    Z, mu, sd = standardize(rows, names)
    y = np.array([target(r, kind) for r in rows])
    w = fit(Z, y, best)
    model = {"features": names, "mean": mu.round(6).tolist(), "std": sd.round(6).tolist(),
             "weights": w[:-1].round(6).tolist(), "bias": round(float(w[-1]), 6)}
    # The highest threshold that still shows TARGET_SHOWN of all cross-file validation requests
    # (empty ones included: they show nothing whatever the threshold); not the "fit" holes,
    # which are not what the test split is.
    probs = np.array([gate.learned_score(r["context"]["features"], model) for r in rows if r["split"] == "validation"])
    n_all = sum(1 for line in args.samples.read_text().splitlines() if '"split": "validation"' in line)
    need = int(math.ceil(TARGET_SHOWN * n_all))
    ordered = np.sort(probs)[::-1]
    threshold = float(math.floor(ordered[min(need, len(ordered)) - 1] * 1e4) / 1e4) if need <= len(ordered) else 0.0
    comment = float(math.floor(ordered[max(0, int(math.ceil(COMMENT_SHOWN * n_all)) - 1)] * 1e4) / 1e4)
    model |= {"threshold": threshold, "comment_threshold": max(threshold, comment), "feature_set": set_name, "target": kind, "l2": best,
              "split_half_average_precision_em": {f"{a}/{b}@{c}": round(v, 4) for (a, b, c), v in cv.items()},
              "split_half_average_precision_em_best": round(top, 4), "splits": len(splits),
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
