"""Cross-file completion (after CrossCodeEval): holes whose answer uses a name that the file
imports from another module of the same repository, scored with and without repository context,
then through the confidence gate and with alternatives.

- Holes: in every Python file (tests included: they import the modules under test), lines that
  use a name imported from a repository module that defines it. `line`: the cursor somewhere
  before the name, the file up to it, no suffix; `single`: the line's code removed, the rest of
  the file after it.
- Context: as the server builds it (model/tasks/retrieval.py) when the workspace is indexed and
  nothing else is open: the imports resolved to the repository's files, their definitions of the
  names used near the cursor, and BM25 windows of those files.
- Gate: a threshold calibrated on the validation packages (CALIBRATE) — the highest one that
  still shows at least TARGET_SHOWN of them — and reported on the others, with the curve.
- Alternatives: any-of-N exact match against the first alone, with context.
"""

from __future__ import annotations

import re
from dataclasses import replace

from model import gate
from model.tasks import retrieval
from model.types import CancelToken, CompletionRequest
from training.evaluate import metrics
from training.evaluate.context import EvalContext, digest
from training.evaluate.holes import Hole, _code_lines, _offset, _rng
from training.evaluate.heldout import Repo

CALIBRATE = ("funcy", "glom")  # validation packages: the gate's threshold is chosen on these
TARGET_SHOWN = 0.5
MAX_TOKENS = 24  # one line: the stop rules end it at the newline, well before this
THRESHOLDS = [round(0.05 * i, 2) for i in range(0, 20)]
ALTERNATIVES = 3


def _modules(repo: Repo) -> dict[str, str]:
    return {repo.module_name(p): p for p in repo.python_files}


def resolver(repo: Repo, path: str, modules: dict[str, str]):
    """(module, name) -> (path, text) of a repository file, relative imports from `path`."""
    here = repo.module_name(path).split(".")
    package = here if path.endswith("__init__.py") else here[:-1]

    def resolve(module: str, _name: str | None):
        if module.startswith("."):
            dots = len(module) - len(module.lstrip("."))
            base = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
            module = ".".join(base + ([module.lstrip(".")] if module.lstrip(".") else []))
        rel = modules.get(module)
        if rel is None or rel == path:
            return None
        return rel, repo.read(rel)

    return resolve


def _cross_names(repo: Repo, path: str, text: str, modules: dict[str, str]) -> set[str]:
    """Names this file imports from repository modules that define them (not from itself)."""
    resolve = resolver(repo, path, modules)
    own = set(retrieval.definitions_names_regex(text))
    out = set()
    for local, imp in retrieval.imports(text).items():
        if imp.name is None or local in own:
            continue
        found = resolve(imp.module, imp.name)
        if found is not None and imp.name in retrieval.definitions(found[1]):
            out.add(local)
    return out


def select(repos: list[Repo], limit: int | None, seed: int) -> list[tuple[Hole, str]]:
    """(hole, split) pairs: split is "validation" for CALIBRATE packages, else "test". Holes of
    both kinds, in a seeded order: `limit` for the test split, half as many for validation."""
    per: dict[str, list[tuple[Hole, str]]] = {"validation": [], "test": []}
    for repo in repos:
        split = "validation" if repo.name in CALIBRATE else "test"
        modules = _modules(repo)
        for path in repo.python_files:
            text = repo.read(path)
            if len(text) > 100_000:
                continue
            names = _cross_names(repo, path, text, modules)
            if not names:
                continue
            pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, sorted(names))) + r")\b")
            lines = text.split("\n")
            for i in _code_lines(text):
                line = lines[i]
                if line.lstrip().startswith(("import ", "from ", "def ", "class ")):
                    continue
                m = pattern.search(line)
                if not m:
                    continue
                start = _offset(lines, i)
                indent = len(line) - len(line.lstrip())
                rng = _rng(seed, repo.key, path, str(i), "crossfile")
                if rng.random() < 0.5:
                    col = indent + rng.randint(0, max(0, m.start() - indent))
                    hole = Hole(f"{repo.key}:{path}:{i + 1}:{col}", "line", repo.key, path, i + 1,
                                text[: start + col], "", line.rstrip()[col:])
                else:
                    hole = Hole(f"{repo.key}:{path}:{i + 1}", "single", repo.key, path, i + 1,
                                text[: start + indent], text[start + len(line):], line[indent:].rstrip())
                if hole.target.strip():
                    per[split].append((hole, split))
    out = []
    for split, items in per.items():
        rng = _rng(seed, "crossfile", split)
        rng.shuffle(items)
        n = (limit if split == "test" else max(1, limit // 2)) if limit else None
        out.extend(items[:n] if n else items)
    return out


def context_for(repo: Repo, hole: Hole, modules: dict[str, str], budget: int):
    files = retrieval.select(hole.prefix, hole.suffix, [], resolver(repo, hole.path, modules),
                             max_chars=int(budget * 0.4 * 3.0))
    return files


def run_crossfile(engine, ctx: EvalContext) -> dict:
    """Each hole without, then with context. Holes run in file order, all without context first:
    consecutive holes of one file then share most of their prompt, and the KV cache with it."""
    repos = {r.key: r for r in ctx.repos}
    holes = sorted(select(ctx.repos, ctx.limit, ctx.seed), key=lambda hs: (hs[0].repo, hs[0].path, hs[0].line))
    modules = {k: _modules(r) for k, r in repos.items()}
    samples = []
    for h, split in holes:
        files = context_for(repos[h.repo], h, modules[h.repo], ctx.budget)
        samples.append(h.to_json() | {"split": split, "context_files": [p for p, _ in files],
                                      "context_chars": sum(len(c) for _, c in files), "_files": files, "_hole": h})
    for label in ("plain", "context"):
        for i, s in enumerate(samples):
            h, repo = s["_hole"], repos[s["_hole"].repo]
            context = s["_files"] if label == "context" else ()
            req = CompletionRequest(prefix=h.prefix, suffix=h.suffix, path=h.path, mode="single",
                                    max_tokens=MAX_TOKENS, budget=ctx.budget, context=tuple(context),
                                    repo_name=repo.name, repo_path=h.path)
            out = engine.complete(req, CancelToken())
            first = out[0] if out else None
            pred = first.text if first else ""
            ctext = "".join(c for _, c in context)
            g = gate.score(pred, first.confidence, h.prefix, h.suffix, "python", ctext) if first else (0.0, [])
            s[label] = {
                "prediction": pred, "confidence": first.confidence if first else 0.0,
                "exact_match": metrics.exact_match(pred, h.target), "gate": g[0], "findings": g[1],
                "edit_similarity": metrics.edit_similarity(metrics.normalize(pred), metrics.normalize(h.target)),
                "ms": first.timings.total_ms if first else 0.0,
            }
            if label == "context":
                # Any of N: the greedy answer is always among the N, so the others are only
                # needed when it is wrong (they share its cached prompt, just computed).
                if s[label]["exact_match"]:
                    s[label]["any_of_n"] = True
                else:
                    alts = engine.complete(replace(req, n=ALTERNATIVES), CancelToken())
                    s[label]["any_of_n"] = any(metrics.exact_match(c.text, h.target) for c in alts)
                    s[label]["alternatives"] = [c.text for c in alts]
            if (i + 1) % 10 == 0:
                ctx.log(f"  crossfile {label}: {i + 1}/{len(samples)}")
    for s in samples:
        del s["_files"], s["_hole"]
    m = summarize(samples)
    curves = {"test": m.pop("curve_test"), "validation": m.pop("curve_validation")}
    return {"metrics": m, "curves": curves, "samples": samples, "samples_digest": digest([h.id for h, _ in holes])}


def _em(samples, label, kind=None) -> float | None:
    rows = [s for s in samples if kind is None or s["kind"] == kind]
    return metrics.mean([float(s[label]["exact_match"]) for s in rows])


def curve(samples, label: str) -> list[dict]:
    """Shown rate and precision (exact match, edit similarity >= 0.9) per gate threshold."""
    out = []
    for t in THRESHOLDS:
        shown = [s[label] for s in samples if s[label]["prediction"] and s[label]["gate"] >= t]
        out.append({"threshold": t, "shown_rate": len(shown) / len(samples) if samples else None,
                    "precision_em": metrics.mean([float(x["exact_match"]) for x in shown]),
                    "precision_es90": metrics.mean([float(x["edit_similarity"] >= 0.9) for x in shown])})
    return out


def calibrate(samples, label: str = "context") -> float:
    """The highest threshold that shows at least TARGET_SHOWN of the validation requests."""
    ok = [c["threshold"] for c in curve(samples, label) if (c["shown_rate"] or 0) >= TARGET_SHOWN]
    return max(ok) if ok else 0.0


def summarize(samples: list[dict]) -> dict:
    val = [s for s in samples if s["split"] == "validation"]
    test = [s for s in samples if s["split"] == "test"] or val
    m: dict = {"n_test": len(test), "n_validation": len(val)}
    for kind in ("line", "single"):
        m[f"{kind}_n"] = sum(1 for s in test if s["kind"] == kind)
        m[f"{kind}_em_plain"] = _em(test, "plain", kind)
        m[f"{kind}_em_context"] = _em(test, "context", kind)
    m["em_plain"], m["em_context"] = _em(test, "plain"), _em(test, "context")
    m["em_ratio"] = (m["em_context"] / m["em_plain"]) if m["em_plain"] else None
    m["any_of_n_context"] = metrics.mean([float(s["context"]["any_of_n"]) for s in test])
    threshold = calibrate(val) if val else 0.0
    m["gate_threshold"] = threshold
    today = [s["plain"] for s in test if s["plain"]["prediction"]]
    m["precision_today_em"] = metrics.mean([float(x["exact_match"]) for x in today])
    m["shown_today"] = len(today) / len(test) if test else None
    at = next(c for c in curve(test, "context") if c["threshold"] == threshold)
    m["precision_gated_em"], m["precision_gated_es90"], m["shown_gated"] = (
        at["precision_em"], at["precision_es90"], at["shown_rate"])
    m["ms_plain_mean"] = metrics.mean([s["plain"]["ms"] for s in test])
    m["ms_context_mean"] = metrics.mean([s["context"]["ms"] for s in test])
    m["curve_test"] = curve(test, "context")
    m["curve_validation"] = curve(val, "context") if val else []
    return m
