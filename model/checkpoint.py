"""FastLlama's weights read straight from a checkpoint's safetensors, with a peft LoRA adapter
merged on the way, without building a transformers model.

Going through transformers held the whole model in its load dtype beside the forms being built,
mapped the fp32 file into the process (its pages counted in the resident set), and imported
transformers' modelling stack (~90 MB resident, for good). Here each tensor is read with plain
file reads when it is needed, converted as transformers and peft would convert it, handed over
and dropped. The arithmetic is theirs, step for step (tests/model/test_checkpoint.py checks the
results are bitwise equal):
- the load: each tensor cast to the load dtype (`from_pretrained(dtype=...)`);
- LoRA: `weight += (B @ A) * scaling`, the delta in the adapter's fp32 (peft's `merge`);
- trainable tokens: the adapter's rows written over the embedding (peft's `index_copy`), after
  the table is grown to the tokenizer's size (`resize_token_embeddings`);
- default rope: transformers' `compute_default_rope_parameters` and rotary forward.
Anything else (another rope type, a DoRA adapter, lm_head adapters, .bin files) is not handled
here: `for_checkpoint` returns None and the engine loads through transformers as before.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch

DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
READ_BYTES = 16 << 20  # read (and cast) this much at a time
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class SafetensorsFile:
    """Tensors read by offset with ordinary reads: nothing is memory-mapped, so a tensor costs
    the process only while it is held."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        header.pop("__metadata__", None)
        self.base = 8 + n
        self.entries = header

    def read(self, name: str, dtype: torch.dtype | None = None, rows: int | None = None) -> torch.Tensor:
        """The tensor, cast to `dtype` block by block (a 49k-row fp32 table read whole for a bf16
        copy held both at once), with zero rows appended up to `rows`."""
        e = self.entries[name]
        if e["dtype"] not in DTYPES:
            raise ValueError(f"{self.path.name}: {name} is {e['dtype']}, not one of {', '.join(DTYPES)}")
        src, shape = DTYPES[e["dtype"]], e["shape"]
        a, b = e["data_offsets"]
        n = shape[0] if shape else 1
        out = torch.empty([max(n, rows or 0), *shape[1:]], dtype=dtype or src)
        out[n:] = 0
        flat = out[:n].reshape(n, -1)
        row_bytes = (b - a) // max(n, 1)
        step = max(1, READ_BYTES // max(row_bytes, 1))
        buf = torch.empty(min(n, step) * row_bytes, dtype=torch.uint8)
        with open(self.path, "rb") as f:
            f.seek(self.base + a)
            for i in range(0, n, step):
                part = buf[: min(step, n - i) * row_bytes]
                if f.readinto(part.numpy()) != part.numel():
                    raise ValueError(f"{self.path.name} is truncated at {name}")
                flat[i: i + step].copy_(part.view(src).reshape(-1, flat.shape[1]))  # the cast .to() does
        return out.reshape(shape) if not shape else out


def _files(model_dir: Path) -> dict[str, SafetensorsFile] | None:
    """Tensor name -> the file holding it, for a single or a sharded safetensors checkpoint."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        shards = {f: SafetensorsFile(model_dir / f) for f in set(json.loads(index.read_text())["weight_map"].values())}
    elif (model_dir / "model.safetensors").is_file():
        shards = {"model.safetensors": SafetensorsFile(model_dir / "model.safetensors")}
    else:
        return None
    return {name: sf for sf in shards.values() for name in sf.entries}


def _rope(cfg: dict) -> float | None:
    """rope_theta for the default rope, None for any other variant."""
    params = cfg.get("rope_parameters") or {}
    scaling = cfg.get("rope_scaling") or {}
    kind = params.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if kind != "default" or cfg.get("partial_rotary_factor", 1.0) != 1.0:
        return None
    return float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))


class Lora:
    """A LoRA adapter's matrices by the base weight's name, and its trainable-token rows."""

    PREFIX = "base_model.model."

    def __init__(self, adapter_dir: Path) -> None:
        conf = json.loads((adapter_dir / "adapter_config.json").read_text())
        self.ok = _plain_lora(conf) and (adapter_dir / "adapter_model.safetensors").is_file()
        self.pairs: dict[str, tuple[str, str]] = {}
        self.tokens: tuple[list[int], str] | None = None
        if not self.ok:
            return
        r, alpha = conf["r"], conf["lora_alpha"]
        self.scaling = alpha / r ** 0.5 if conf.get("use_rslora") else alpha / r  # peft's LoraLayer.update_layer
        self.file = SafetensorsFile(adapter_dir / "adapter_model.safetensors")
        for key in self.file.entries:
            if not key.startswith(self.PREFIX):
                self.ok = False
                return
            name = key[len(self.PREFIX):]
            if name.endswith(".lora_A.weight") and name.split(".")[-3] in TARGETS:
                base = name[: -len(".lora_A.weight")] + ".weight"
                self.pairs[base] = (key, key.replace(".lora_A.", ".lora_B."))
            elif name.endswith(".lora_B.weight") and name.split(".")[-3] in TARGETS:
                continue
            elif name == "model.embed_tokens.token_adapter.trainable_tokens_delta":
                indices = conf.get("trainable_token_indices")
                if isinstance(indices, dict):
                    indices = indices.get("embed_tokens")
                if not isinstance(indices, list):
                    self.ok = False
                    return
                self.tokens = (indices, key)
            else:
                self.ok = False  # an adapter on some other module: transformers and peft load it
                return
        if any(b not in self.file.entries for _, b in self.pairs.values()):
            self.ok = False

    def merge(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        """peft's merge for a Linear: the delta in the adapter's (fp32) dtype, added in place."""
        if name in self.pairs:
            a, b = (self.file.read(k) for k in self.pairs[name])
            if a.dtype in (torch.float16, torch.bfloat16):  # peft upcasts such adapters (autocast_adapter_dtype)
                a, b = a.float(), b.float()
            weight += (b @ a) * self.scaling
        return weight


def _plain_lora(conf: dict) -> bool:
    return (conf.get("peft_type") == "LORA" and not conf.get("use_dora") and not conf.get("fan_in_fan_out")
            and conf.get("bias", "none") == "none" and not conf.get("lora_bias") and not conf.get("modules_to_save")
            and not conf.get("rank_pattern") and not conf.get("alpha_pattern")
            and not conf.get("layers_to_transform") and not conf.get("target_parameters")
            and not conf.get("use_qalora") and not conf.get("alora_invocation_tokens")
            and isinstance(conf.get("r"), int) and conf.get("lora_alpha") is not None)


class CheckpointWeights:
    """The weights source FastLlama builds from (model/llama.py: the same interface as HFWeights)."""

    def __init__(self, config: dict, files: dict[str, SafetensorsFile], dtype: torch.dtype, lora: Lora | None,
                 vocab: int, theta: float) -> None:
        self.config, self.files, self.dtype, self.lora = config, files, dtype, lora
        self.vocab, self.theta = vocab, theta
        self.tied = bool(config.get("tie_word_embeddings", False))  # transformers' default: untied

    def get(self, name: str) -> torch.Tensor | None:
        if name not in self.files:
            return None
        if name == "model.embed_tokens.weight":
            return self._embedding(self.files[name].read(name, self.dtype, rows=self.vocab))
        w = self.files[name].read(name, self.dtype)
        return self.lora.merge(name, w) if self.lora else w

    def _embedding(self, w: torch.Tensor) -> torch.Tensor:
        """Grown to the tokenizer's size (zero rows, as read), the adapter's rows written over."""
        if self.lora is not None and self.lora.tokens is not None:
            indices, key = self.lora.tokens
            w.index_copy_(0, torch.tensor(indices), self.lora.file.read(key).to(w))
        return w

    def release(self, layer: int) -> None:
        pass  # nothing is held: each tensor is read when asked for

    def rotary(self, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        inv_freq = 1.0 / (self.theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))
        freqs = torch.arange(max_len)[None][..., None].float() * inv_freq.to(dtype=torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * 1.0)[0], (emb.sin() * 1.0)[0]


def for_checkpoint(model_dir: Path, adapter_dir: Path | None, config: dict, dtype: torch.dtype,
                   vocab: int) -> CheckpointWeights | None:
    """The direct source for this checkpoint, or None when only transformers can load it.
    `vocab`: the tokenizer's size (an adapter may add tokens)."""
    from model.llama import SUPPORTED

    theta = _rope(config)
    files = _files(model_dir)
    if config.get("model_type") not in SUPPORTED or theta is None or files is None:
        return None
    if any(f.entries[n]["dtype"] not in DTYPES for n, f in files.items()):
        return None
    if "model.embed_tokens.weight" not in files or not (config.get("tie_word_embeddings") or "lm_head.weight" in files):
        return None  # transformers would make up what is missing
    lora = Lora(adapter_dir) if adapter_dir else None
    if lora is not None and not lora.ok:
        return None
    rows = files["model.embed_tokens.weight"].entries["model.embed_tokens.weight"]["shape"][0]
    weights = CheckpointWeights(config, files, dtype, lora, max(vocab, rows), theta)
    if vocab > rows:
        # New tokens: transformers initialises their rows at random and the adapter's trainable
        # tokens overwrite them. Direct only when every new row is overwritten, and the head is
        # the (tied) embedding, so it has them too.
        covered = set(lora.tokens[0]) if lora is not None and lora.tokens else set()
        if not weights.tied or not set(range(rows, vocab)) <= covered:
            return None
    return weights
