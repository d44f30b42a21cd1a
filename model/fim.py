"""Fill-in-the-middle templates by model family, detected from the tokenizer's vocabulary.

Order matters for the KV cache: with suffix-first (SPM) the prompt ends with the prefix, so typing
at the cursor only appends to the cached prompt. Families documented prefix-first keep PSM.
Wingman's own template is SPM with an open middle: no marker after the prefix (see `open_middle`).
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Literal

Order = Literal["psm", "spm", "prefix_only"]


@dataclass(frozen=True)
class FimTemplate:
    name: str
    prefix: str  # marker tokens; empty for prefix-only
    suffix: str
    middle: str
    order: Order
    stop: tuple[str, ...] = ()  # extra strings that end a completion
    # SPM without the middle marker: the prompt ends with the prefix and the middle simply continues
    # it. A base model fine-tuned with few tokens keeps its left-to-right skill from the first step
    # (with the marker it read the marker as a word and skipped a token), and token healing applies.
    open_middle: bool = False

    def render(self, prefix: str, suffix: str, order: Order | None = None) -> str:
        """The prompt as text. The engine tokenizes the pieces separately (see model/tasks/window.py)."""
        return "".join(self.pieces(prefix, suffix, order))

    def pieces(self, prefix: str, suffix: str, order: Order | None = None) -> list[str]:
        order = order or self.order
        if order == "prefix_only" or not self.middle:
            return [prefix]
        if order == "spm":
            return [self.suffix, suffix, self.prefix, prefix] + ([] if self.open_middle else [self.middle])
        return [self.prefix, prefix, self.suffix, suffix, self.middle]

    def ends_with_prefix(self, order: Order | None = None) -> bool:
        """Whether the prompt's last token is the prefix's own (so token healing applies)."""
        order = order or self.order
        return order == "prefix_only" or not self.middle or (order == "spm" and self.open_middle)

    @property
    def special_tokens(self) -> list[str]:
        return [t for t in (self.prefix, self.suffix, self.middle) if t]


WINGMAN = FimTemplate(
    "wingman", "<|wm_fim_prefix|>", "<|wm_fim_suffix|>", "<|wm_fim_middle|>", "spm",
    # A marker after the middle means the model has left it (as StarCoder's tooling stops on any FIM token).
    stop=("<|wm_fim_pad|>", "<|endoftext|>", "<file_sep>", "<|im_end|>",
          "<|wm_fim_prefix|>", "<|wm_fim_suffix|>", "<|wm_fim_middle|>"),
    open_middle=True,
)
# The pad token is added with the others in fine-tuning; training ends every middle with EOT.
WINGMAN_PAD = "<|wm_fim_pad|>"

TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        WINGMAN,
        FimTemplate("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "psm",
                    stop=("<|fim_pad|>", "<|endoftext|>", "<|file_sep|>", "<|im_end|>")),
        FimTemplate("deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "psm",
                    stop=("<｜end▁of▁sentence｜>", "<|EOT|>")),
        FimTemplate("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "psm",
                    stop=("<|endoftext|>", "<file_sep>", "<fim_pad>")),
        FimTemplate("codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", "psm", stop=("▁<EOT>", "</s>")),
        FimTemplate("none", "", "", "", "prefix_only", stop=("<|endoftext|>", "<file_sep>", "<|im_end|>", "</s>")),
    )
}


def detect_template(vocab: Container[str]) -> FimTemplate:
    """The first family whose three markers are all in the vocabulary; prefix-only otherwise."""
    for t in TEMPLATES.values():
        if t.middle and all(tok in vocab for tok in t.special_tokens):
            return t
    # CodeLlama's markers are ordinary vocabulary entries spelled without the sentencepiece mark.
    if all(tok in vocab for tok in ("<PRE>", "<SUF>", "<MID>")):
        return FimTemplate("codellama", "<PRE>", "<SUF>", "<MID>", "psm", stop=("<EOT>", "</s>"))
    return TEMPLATES["none"]


def get_template(name: str, vocab: Container[str] | None = None) -> FimTemplate:
    if name == "auto":
        return detect_template(vocab or set())
    if name not in TEMPLATES:
        raise ValueError(f"unknown FIM template {name!r}; choose one of: auto, {', '.join(TEMPLATES)}")
    return TEMPLATES[name]
