"""Step 4 of `wingman learn`: the same held-out holes, before and after, in the same run.

training/evaluate's line-completion and single-line infilling tasks (its hole cutters, its
scoring, the engine's own prompt path) on the repository's held-out Python files. Each task's
exact match is also given with the holes on boilerplate lines (imports, the licence header) left
out, so a gain from copying boilerplate shows as such.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from training.learn.split import boilerplate_lines

TASKS = {"line": "line completion", "single": "single-line infilling"}


@dataclass
class HeldoutRepo:
    """training/evaluate's Repo over the held-out files only (no tests are run)."""
    root: Path
    files: list[str]
    name: str = "repo"
    version: str = "heldout"

    @property
    def key(self) -> str:
        return f"{self.name}=={self.version}"

    @cached_property
    def source_files(self) -> list[str]:
        return list(self.files)

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8", errors="replace")


def score(engine, repo: HeldoutRepo, limit: int, seed: int, budget: int, log=lambda m: None) -> dict:
    from training.evaluate.completion import _score_holes
    from training.evaluate.context import EvalContext
    from training.evaluate.metrics import mean

    ctx = EvalContext(repos=[repo], limit=limit, seed=seed, budget=budget, run_repo_tests=False, log=log)
    out = {}
    texts: dict[str, set[int]] = {}
    for kind in TASKS:
        r = _score_holes(engine, ctx, kind, run_tests=False)
        samples = r["samples"]
        for s in samples:
            if s["path"] not in texts:
                texts[s["path"]] = boilerplate_lines(repo.read(s["path"]))
        plain = [s for s in samples if (s["line"] - 1) not in texts[s["path"]]]
        out[kind] = {**r["metrics"], "exact_match_no_boilerplate": mean([float(s["exact_match"]) for s in plain]),
                     "n_no_boilerplate": len(plain), "digest": r["samples_digest"],
                     "samples": [{k: s[k] for k in ("id", "target", "prediction", "exact_match")} for s in samples]}
    return out


def evaluate(engine_config, repo: HeldoutRepo, limit: int, seed: int, budget: int, log=lambda m: None) -> dict:
    """Load the engine, score, and free it before returning (one engine in memory at a time)."""
    from model.factory import load_engine

    engine = load_engine(engine_config)
    try:
        return score(engine, repo, limit, seed, budget, log)
    finally:
        del engine
        gc.collect()


def headline(result: dict) -> tuple[float, float]:
    """(exact match, edit similarity) over both tasks, boilerplate holes left out of exact match."""
    ems = [result[k]["exact_match_no_boilerplate"] for k in TASKS if result[k]["exact_match_no_boilerplate"] is not None]
    ess = [result[k]["edit_similarity"] for k in TASKS if result[k]["edit_similarity"] is not None]
    return (sum(ems) / len(ems) if ems else 0.0, sum(ess) / len(ess) if ess else 0.0)


def exact_count(result: dict) -> int:
    """Held-out holes filled exactly, boilerplate holes left out, over both tasks."""
    return sum(round((r["exact_match_no_boilerplate"] or 0.0) * r["n_no_boilerplate"]) for r in
               (result[k] for k in TASKS))


def wins(before: dict, after: dict, min_gain: int = 2, max_similarity_drop: float = 0.01) -> bool:
    """At least `min_gain` more holes filled exactly, net (one hole of some 80 is noise: on toolz
    it was all a 5-step run bought), with the edit similarity not lower by more than
    `max_similarity_drop`."""
    (_, es0), (_, es1) = headline(before), headline(after)
    return exact_count(after) - exact_count(before) >= min_gain and es1 >= es0 - max_similarity_drop


def table(before: dict, after: dict) -> str:
    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}%"

    rows = ["| held-out metric (holes) | before | after |", "| --- | --- | --- |"]
    for kind, title in TASKS.items():
        b, a = before[kind], after[kind]
        rows.append(f"| {title} exact match ({b['n']}) | {pct(b['exact_match'])} | {pct(a['exact_match'])} |")
        rows.append(f"| {title} exact match, imports and licence header left out ({b['n_no_boilerplate']}) | "
                    f"{pct(b['exact_match_no_boilerplate'])} | {pct(a['exact_match_no_boilerplate'])} |")
        rows.append(f"| {title} edit similarity ({b['n']}) | {pct(b['edit_similarity'])} | {pct(a['edit_similarity'])} |")
    return "\n".join(rows)
