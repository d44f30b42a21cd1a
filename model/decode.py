"""Our decode loop, in gpt-fast's shape: prefill → next token → draft verification → the loop.

A Slot is one KV cache and the token ids it holds. `prefill` runs only the tokens after the
longest common prefix with what the slot holds. `tokens` yields (token, log-probability) one step
at a time: the caller's stop rules decide when to stop, and the cancel flag is checked between
tokens and between prefill chunks. Greedy decoding also tries prompt-lookup drafts: when the
last tokens occurred earlier in the context, the tokens that followed them there are checked in
the same forward pass, and every one the model agrees with is accepted for free.

This is the public seam: benches and tests drive `Decoder` directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

from model.engine import EngineError
from model.healing import Healing
from model.types import CancelToken

PACE_TOKENS = 16
PREFILL_CHUNK = 128  # tokens per prefill step: the cancel flag is checked between chunks (~0.3 s on AVX2)
LOOKAHEAD = 3  # prompt-lookup draft length (3 measured best of 0, 3, 6: bench/speculation.py)
RESERVE = 80  # tokens reserved in the cache past a prompt: a default completion (64) and its drafts


class Slot:
    """One KV cache and the token ids whose keys and values it holds."""

    def __init__(self, backbone) -> None:
        self.cache = backbone.new_cache()
        self.ids: list[int] = []


class Decoder:
    def __init__(self, backbone, stop_ids: set[int], lookahead: int = LOOKAHEAD) -> None:
        self.backbone = backbone
        self.max_len = backbone.max_len
        self.stop_ids = stop_ids
        self.lookahead = lookahead  # 0 turns the drafts off
        self.slots: dict[str, Slot] = {}
        # Called between prefill chunks and every PACE_TOKENS decoded tokens, to re-decide what
        # the work may use while it runs (model/threads.py: the thread count).
        self.pace: Callable[[], object] | None = None

    def slot(self, name: str) -> Slot:
        """A named cache: completions, chat generations and scoring each keep their own, so a
        translation or a diagnostics pass never evicts the completion's cached prompt."""
        if name not in self.slots:
            self.slots[name] = Slot(self.backbone)
        return self.slots[name]

    def cached(self, name: str, ids: list[int]) -> int:
        """How many leading tokens of `ids` the slot already holds."""
        held = self.slots[name].ids if name in self.slots else []
        n = 0
        for a, b in zip(held, ids):
            if a != b:
                break
            n += 1
        return n

    def drop(self, name: str) -> None:
        self.slots.pop(name, None)

    def reserve(self, slot: Slot, tokens: int) -> None:
        """Size the slot's cache for `tokens` at once (one copy, not one per chunk); a backbone
        whose cache sizes itself (transformers' DynamicCache) has nothing to do."""
        ensure = getattr(slot.cache, "ensure", None)
        if ensure is not None:
            ensure(min(self.max_len, tokens))

    # ---- prefill ---------------------------------------------------------------------------
    def prefill(self, slot: Slot, ids: list[int], cancel: CancelToken) -> tuple[torch.Tensor | None, int]:
        """Run the tokens the cache does not hold yet. Returns (last logits or None when
        cancelled, tokens reused)."""
        if len(ids) >= self.max_len:
            raise EngineError(f"prompt of {len(ids)} tokens does not fit the context of {self.max_len}")
        common = 0
        for a, b in zip(slot.ids, ids):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)  # at least one token runs, for fresh logits
        del slot.ids[common:]
        self.reserve(slot, len(ids) + RESERVE)
        logits = None
        step = getattr(self.backbone, "prefill_chunk", PREFILL_CHUNK)  # an unpacking plan wants more rows
        for start in range(common, len(ids), step):
            if cancel.cancelled:
                return None, common
            if self.pace is not None:
                self.pace()
            chunk = ids[start: start + step]
            logits = self.backbone.forward(torch.tensor([chunk]), slot.cache, start)
            slot.ids.extend(chunk)
        return logits[0, -1], common

    # ---- one step --------------------------------------------------------------------------
    @staticmethod
    def next_token(logits: torch.Tensor, temperature: float = 0.0, allowed: torch.Tensor | None = None,
                   rank: int = 0) -> tuple[int, float]:
        """(token, its log-probability) from one row of logits (V,); `rank` > 0: the rank-th most
        likely instead of the most likely (an alternative's first token)."""
        logprobs = logits.log_softmax(-1)
        if allowed is not None:
            masked = torch.full_like(logprobs, -math.inf)
            masked[allowed] = logprobs[allowed]
            logprobs = masked
        if rank > 0:
            top = logprobs.topk(rank + 1)
            if math.isinf(float(top.values[rank])):
                return int(top.indices[0]), float(top.values[0])  # fewer allowed tokens than that
            return int(top.indices[rank]), float(top.values[rank])
        if temperature > 0:
            tok = int(torch.multinomial((logprobs / temperature).softmax(-1), 1))
        else:
            tok = int(logprobs.argmax())
        return tok, float(logprobs[tok])

    def draft(self, ids: list[int], k: int, n: int = 3) -> list[int]:
        """The k tokens that followed the latest earlier occurrence of the context's last n tokens."""
        if k <= 0:
            return []
        key = ids[-n:]
        for i in range(len(ids) - n - 1, -1, -1):
            if ids[i: i + n] == key:
                return ids[i + n: i + n + k]
        return []

    def verify(self, slot: Slot, tok: int, draft: list[int]) -> tuple[list[tuple[int, float]], torch.Tensor]:
        """Run `tok` and the draft in one forward pass. Returns the draft tokens the model agrees
        with (each with its log-probability) and the logits after the last accepted token."""
        out = self.backbone.forward(torch.tensor([[tok, *draft]]), slot.cache, len(slot.ids),
                                    last_only=not draft)[0]  # (1 + len(draft), V)
        slot.ids.append(tok)
        accepted: list[tuple[int, float]] = []
        for i, d in enumerate(draft):
            if int(out[i].argmax()) != d:
                break
            accepted.append((d, float(out[i].log_softmax(-1)[d])))
            slot.ids.append(d)
            if d in self.stop_ids:
                break
        return accepted, out[len(accepted)]

    # ---- the loop --------------------------------------------------------------------------
    def tokens(self, slot: Slot, logits: torch.Tensor, max_new: int, cancel: CancelToken,
               temperature: float = 0.0, healing: Healing | None = None, first_rank: int = 0) -> Iterator[tuple[int, float]]:
        """Yield (token, log-probability); the next step runs only if the caller asks for more.
        `first_rank`: the first token is the first_rank-th most likely, then greedy (alternatives)."""
        produced = 0
        while produced < max_new:
            tok, lp = self.next_token(logits, temperature, healing.allowed() if healing else None,
                                      first_rank if produced == 0 else 0)
            if healing is not None and healing.active:
                healing.advance(tok)
            yield tok, lp
            produced += 1
            if self.pace is not None and produced % PACE_TOKENS == 0:
                self.pace()
            if tok in self.stop_ids or cancel.stopped or len(slot.ids) + 1 >= self.max_len:
                return
            room = min(max_new - produced, self.max_len - len(slot.ids) - 2)
            greedy = temperature == 0 and not (healing is not None and healing.active)
            draft = self.draft(slot.ids + [tok], min(self.lookahead, room)) if greedy else []
            accepted, logits = self.verify(slot, tok, draft)
            for d, dlp in accepted:
                yield d, dlp
                produced += 1
                if d in self.stop_ids or cancel.stopped:
                    return
