"""What every task gets: the held-out repositories and the settings that make runs comparable.
Samples (holes, functions, problems) are computed once and shared by all candidates."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from model.types import CancelToken, CompletionRequest
from training.evaluate import functions, holes
from training.evaluate.heldout import Repo


@dataclass
class EvalContext:
    repos: list[Repo]
    limit: int | None = 20  # samples per task (None: all)
    seed: int = 1234
    budget: int = 1024  # prompt tokens, as the server's default
    run_repo_tests: bool = True
    translate: dict = field(default_factory=dict)  # the translate task's targets, candidates, budget_s
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))
    _cache: dict = field(default_factory=dict, repr=False)

    def holes(self, kind: str) -> list[holes.Hole]:
        key = ("holes", kind)
        if key not in self._cache:
            self._cache[key] = holes.select(self.repos, kind, self.limit, self.seed)
        return self._cache[key]

    def hole_is_tested(self, hole: holes.Hole) -> bool | None:
        """Whether the repository's tests notice the hole: with the hole filled by a `raise`, do
        they fail? None when the repository has no tests that pass untouched. Cached on disk, keyed
        by the hole and the file's content, since it costs a test run."""
        from training.evaluate.heldout import eval_home

        path = eval_home() / "cache" / "probes.json"
        probes = self._cache.get("probes")
        if probes is None:
            probes = json.loads(path.read_text()) if path.is_file() else {}
            self._cache["probes"] = probes
        key = f"{hole.id}|{hashlib.sha256((hole.prefix + hole.target + hole.suffix).encode()).hexdigest()[:16]}"
        if key not in probes:
            repo = next(r for r in self.repos if r.key == hole.repo)
            tests = repo.tests_for(hole.path)
            if not tests or not repo.baseline_passes(tests):
                probes[key] = None
            else:
                probe = "raise RuntimeError('wingman-eval probe')"
                probes[key] = not repo.run_tests(tests, {hole.path: hole.prefix + probe + hole.suffix}).ok
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(probes, indent=0, sort_keys=True))
            tmp.replace(path)
        return probes[key]

    def functions(self) -> list[functions.HeldoutFunction]:
        """All usable held-out functions (each task filters and applies the limit)."""
        if "functions" not in self._cache:
            self._cache["functions"] = functions.find_functions(self.repos, self.seed)
        return self._cache["functions"]


def digest(items) -> str:
    """A short fingerprint of a task's samples: equal digests mean the same questions were asked."""
    return hashlib.sha256(json.dumps(items, sort_keys=True, default=str).encode()).hexdigest()[:16]


def complete(engine, prefix: str, suffix: str, path: str, mode: str, max_tokens: int, budget: int,
             language: str = "python"):
    """One completion through the engine's own prompt path (FIM template, stop rules, trimming)."""
    request = CompletionRequest(prefix=prefix, suffix=suffix, language=language, path=path, mode=mode,
                                max_tokens=max_tokens, budget=budget)
    out = engine.complete(request, CancelToken())
    return out[0] if out else None
