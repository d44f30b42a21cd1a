"""A deterministic engine for tests: fast, scriptable, and honest about cancellation.

Server tests start `wingman serve --engine fake` and script it through the `fakeEngine`
initialization option (a dict given to `FakeEngine.from_spec`).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from model import completion
from model.types import CancelToken, ChatMessage, Completion, CompletionRequest, EngineInfo, TokenScore

_WORD = re.compile(r"\w+|[^\w\s]+|\s+")


@dataclass
class FakeEngine:
    # The "model output" for completions: text the model would generate after the cursor, before
    # stop rules and suffix trimming run (they are the real ones). {n} is replaced by the number
    # of completion calls so far, so tests can tell answers apart.
    completion: str = "fake_completion_{n}()\n    return 1\n"
    # The reply streamed by generate(); {last} is the last user message.
    reply: str = "```python\n# generated\n{last}\n```\n"
    # When set, generate() streams these in turn (one per call, the last repeating): the samples
    # of a verified translation.
    replies: list[str] = field(default_factory=list)
    generations: int = 0
    # Tokens the fake finds surprising, mapped to the token it would prefer instead.
    surprising: dict[str, str] = field(default_factory=dict)
    # Seconds spent per streamed piece, to let tests exercise cancellation and supersession.
    delay_s: float = 0.0
    # Seconds a "prefill" of a prompt not cached yet takes: like the real engine, a prefix already
    # prefilled (by a completion, or by `warm`) costs nothing; cancelling stops it, abandoning not.
    prefill_s: float = 0.0
    # Alternatives' model output (model/completion.py): the rank-th one for rank 1, 2, ...
    alternatives: list[str] = field(default_factory=list)
    calls: int = 0
    prefilled: str | None = None
    stop_strings: tuple[str, ...] = ()
    info: EngineInfo = field(default_factory=lambda: EngineInfo(name="fake", backend="fake", fim_template="none"))

    @classmethod
    def from_spec(cls, spec: dict | None) -> "FakeEngine":
        spec = dict(spec or {})
        known = {"completion", "reply", "replies", "surprising", "delay_s", "delayS", "prefill_s", "prefillS",
                 "alternatives"}
        unknown = set(spec) - known
        if unknown:
            raise ValueError(f"unknown fakeEngine keys: {sorted(unknown)}")
        for camel, snake in (("delayS", "delay_s"), ("prefillS", "prefill_s")):
            if camel in spec:
                spec[snake] = spec.pop(camel)
        return cls(**spec)

    @property
    def branches(self) -> bool:
        return bool(self.alternatives)

    def _prefill(self, request: CompletionRequest, cancel: CancelToken | None) -> bool:
        """False when cancelled before the simulated prefill finished."""
        if not self.prefill_s or (self.prefilled is not None and request.prefix.startswith(self.prefilled)):
            return True
        end = time.monotonic() + self.prefill_s
        while time.monotonic() < end:
            if cancel and cancel.cancelled:
                return False
            time.sleep(min(0.02, max(0.0, end - time.monotonic())))
        self.prefilled = request.prefix
        return True

    def warm(self, request: CompletionRequest, cancel: CancelToken | None = None) -> bool | None:
        return True if self._prefill(request, cancel) else None

    def _pause(self, cancel: CancelToken | None) -> bool:
        """Returns False once cancelled. The delay is the simulated model's, not a test's sleep."""
        if self.delay_s:
            time.sleep(self.delay_s)
        return not (cancel and cancel.stopped)

    def complete(self, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
        self.calls += 1
        return completion.complete(self, request, cancel)

    def stream_fim(self, request: CompletionRequest, budget: int, gen: completion.Generation,
                   cancel: CancelToken) -> Iterator[tuple[str, float | None]]:
        """The scripted text in one piece; the real skeleton applies the stop rules to it."""
        gen.timings.prompt_tokens = len(request.prefix) // 4
        if not self._prefill(request, cancel) or (cancel and cancel.abandoned):
            return
        if not self._pause(cancel):
            return
        gen.finish = "eos"
        if gen.rank:  # an alternative: less likely than the greedy answer
            if gen.rank <= len(self.alternatives):
                yield self.alternatives[gen.rank - 1].replace("{n}", str(self.calls)), math.log(0.9) - 0.1 * gen.rank
            return
        yield self.completion.replace("{n}", str(self.calls)), math.log(0.9)

    def generate(
        self, messages: Sequence[ChatMessage], cancel: CancelToken | None = None, max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> Iterator[str]:
        last = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        reply = self.replies[min(self.generations, len(self.replies) - 1)] if self.replies else self.reply
        self.generations += 1
        text = reply.replace("{last}", last)
        for piece in re.findall(r".{1,16}", text, flags=re.S):
            if not self._pause(cancel):
                return
            yield piece

    def score(self, text: str, cancel: CancelToken | None = None) -> list[TokenScore]:
        out: list[TokenScore] = []
        for i, m in enumerate(_WORD.finditer(text)):
            if i == 0 or m.group().isspace():
                continue
            tok = m.group()
            if tok in self.surprising:
                out.append(TokenScore(m.start(), m.end(), tok, -12.0, self.surprising[tok], -0.1))
            else:
                out.append(TokenScore(m.start(), m.end(), tok, -0.5, tok, -0.5))
        return out
