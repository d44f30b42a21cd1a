"""`wingman learn`'s options: one defaulted dataclass, checked in __post_init__."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.config import ConfigError

INSTALL = ("win", "always", "never")


@dataclass
class LearnConfig:
    repo: str = "."
    minutes: float = 20.0  # the training budget (wall clock); the evaluations come on top
    # Too small to evaluate: a held-out tenth of 30 files is 3 files, ~40 line holes; below that a
    # before/after difference is one or two lines. 100 KB is ~25k tokens, about a minute of training.
    min_files: int = 30
    min_bytes: int = 100_000
    max_files: int = 20_000  # past this many candidates, a fixed sample (said in the report)
    max_file_bytes: int = 1_000_000
    heldout_share: float = 0.1
    min_heldout: int = 3  # Python files held out at least (the evaluation needs some)
    val_share: float = 0.05
    near_threshold: float = 0.7  # MinHash Jaccard over which a training file copies a held-out one
    eval_limit: int = 40  # holes per task (line completion, single-line infilling), the same before and after
    eval_seed: int = 1234
    budget: int = 1024  # prompt tokens per completion (the server's default)
    # Training, through training/train.py (warm start from the shipped adapter, resumable checkpoints).
    base_model: str = "default"
    init_adapter: str = "shipped"  # the adapter the default model serves; the run starts from it
    seq_len: int = 512
    micro_batch_size: int = 2
    grad_accum: int = 2
    lr: float = 3e-4
    warmup_steps: int = 4
    max_steps: int = 400  # the budget usually ends the run first
    fim_per_file: int = 4  # FIM samples per file window per pass
    eval_every: int = 10
    save_every: int = 5
    gradient_checkpointing: bool = False  # peak 3.6 -> 2.2 GiB per step, a third more compute (training/learn/README.md)
    threads: int = 0  # 0: all cores but one (the editor keeps one); training also yields when others want them
    seed: int = 0
    # The acceptance log (model/acceptance_log.py): accepted and typed-through suggestions in this
    # repository's training files become FIM samples, each repeated this many times.
    use_acceptance_log: bool = True
    accept_weight: int = 3
    install: str = "win"  # win | always | never
    min_gain: int = 2  # a win: at least this many more held-out holes filled exactly (net, both tasks)
    quantize: str = "auto"  # of the engines that evaluate (as the server serves)
    ignore: list[str] = field(default_factory=list)  # more privacy patterns (the built-in ones always apply)
    resume: bool = False  # continue the last killed run's training from its checkpoint

    def __post_init__(self) -> None:
        if self.install not in INSTALL:
            raise ConfigError(f"install must be one of {', '.join(INSTALL)}, not {self.install!r}")
        if self.minutes <= 0:
            raise ConfigError("minutes must be positive")
        if not 0 < self.heldout_share < 0.5 or not 0 <= self.val_share < 0.5:
            raise ConfigError("heldout_share must be in (0, 0.5) and val_share in [0, 0.5)")
        for name in ("min_files", "min_bytes", "eval_limit", "accept_weight", "max_files", "min_heldout"):
            if getattr(self, name) < (0 if name in ("min_files", "min_bytes") else 1):
                raise ConfigError(f"{name} is out of range")
