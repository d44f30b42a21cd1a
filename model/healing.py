"""Token healing: when a prompt ends with the text before the cursor, its last token may be a
fragment ("x = " ends in " "). The engine drops it from the prompt and constrains the first
generated tokens to write it again, in whichever tokens the model prefers."""

from __future__ import annotations

from collections import OrderedDict

import torch


class Healer:
    """The vocabulary's texts, and which tokens may come next while some text is still owed."""

    def __init__(self, tokenizer, banned: set[int]) -> None:
        self.tok = tokenizer
        self.banned = banned  # stop tokens never heal a prompt
        self._vocab_text: list[str] | None = None
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    def vocab_text(self) -> list[str]:
        if self._vocab_text is None:
            self._vocab_text = self.tok.batch_decode([[i] for i in range(len(self.tok))])
        return self._vocab_text

    def candidates(self, owed: str) -> torch.Tensor:
        """Tokens that start with the owed text, and those that are a beginning of it ("\\n   "
        for a healed "\\n    ", so that the model can still choose the usual " if" after it)."""
        if owed not in self._cache:
            allowed = [i for i, t in enumerate(self.vocab_text)
                       if t and (t.startswith(owed) or owed.startswith(t)) and i not in self.banned]
            self._cache[owed] = torch.tensor(allowed or [self.tok.convert_tokens_to_ids(owed)])
            if len(self._cache) > 256:
                self._cache.popitem(last=False)
        return self._cache[owed]

    def start(self, owed: str) -> "Healing":
        return Healing(self, owed)


class Healing:
    """One request's healing: the text the generated tokens must still reproduce."""

    def __init__(self, healer: Healer, owed: str) -> None:
        self.healer = healer
        self.owed = owed

    @property
    def active(self) -> bool:
        return bool(self.owed)

    def allowed(self) -> torch.Tensor | None:
        return self.healer.candidates(self.owed) if self.owed else None

    def advance(self, token: int) -> None:
        piece = self.healer.vocab_text[token]
        self.owed = "" if piece.startswith(self.owed) else self.owed[len(piece):]
