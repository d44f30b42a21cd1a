"""A compact Llama-family decoder for fast CPU inference (gpt-fast / nanoGPT style).

Built straight from a checkpoint's files (model/checkpoint.py) or from a loaded Hugging Face
model (Llama, Mistral, Qwen2 share the layout), with fused
q/k/v and gate/up matrices in the forms the kernel plan chose for this machine (model/kernels.py),
and a KV cache, sized to what is in use and grown on demand, that a new prompt can reuse up to
its first differing token. Anything else runs through HFBackbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.kernels import KernelPlan
from model.memory import release_freed_memory
from model.quant import QLinear

SUPPORTED = {"llama", "mistral", "qwen2"}


# A cache starts empty and is reserved for each prompt (model/decode.py: Decoder.reserve), so a
# slot holds what its prompts use: three slots at the full 4,096-token context in fp32 were
# ~540 MB for the default model, a narrowed 300-token prompt needs ~14 MB.
INITIAL_CACHE = 0
GROW_STEP = 128  # tokens: capacities are multiples of this


def grown_capacity(capacity: int, end: int, max_len: int, step: int = GROW_STEP) -> int:
    """A cache's next capacity for `end` tokens: by a quarter at least (a long generation copies
    the cache a few times, not once per step), rounded up to `step`, never past max_len."""
    want = max(end, capacity + capacity // 4)
    return min(max_len, -(-want // step) * step)


@dataclass
class KVCache:
    k: list[torch.Tensor]  # per layer (1, KV, capacity, D)
    v: list[torch.Tensor]
    max_len: int  # the most it may ever hold
    capacity: int  # what it holds now; grows up to max_len

    def ensure(self, end: int) -> None:
        """Room for `end` tokens: grown by copying (grown_capacity), so short prompts never pay
        for a long context."""
        if end <= self.capacity:
            return
        cap = grown_capacity(self.capacity, end, self.max_len)
        for store in (self.k, self.v):
            for i, t in enumerate(store):
                grown = t.new_zeros(t.shape[0], t.shape[1], cap, t.shape[3])
                grown[:, :, : self.capacity] = t
                store[i] = grown
        self.capacity = cap


class HFWeights:
    """A loaded transformers model as the source of FastLlama's weights (any rope variant: its
    own rotary module gives cos/sin). With `consume`, each layer's weights are freed once
    converted, so the build never holds two full copies of the model."""

    def __init__(self, hf_model, consume: bool = False) -> None:
        self.model, self.consume = hf_model, consume
        self.config = hf_model.config.to_dict()
        self.tied = hf_model.lm_head.weight.data_ptr() == hf_model.model.embed_tokens.weight.data_ptr()

    def get(self, name: str) -> torch.Tensor | None:
        try:
            p = self.model.get_parameter(name)
        except AttributeError:
            return None
        return None if p is None else p.detach()

    def release(self, layer: int) -> None:
        if self.consume:
            _free(self.model.model.layers[layer])

    def rotary(self, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(max_len)[None]
        cos, sin = self.model.model.rotary_emb(torch.zeros(1, dtype=torch.float32), pos)
        return cos[0], sin[0]


class FastLlama:
    def __init__(self, model, plan: KernelPlan, max_len: int, consume: bool = False):
        """`model`: a transformers model, or a weights source (model/checkpoint.py reads one
        straight from the checkpoint's files, no transformers model in between)."""
        w = model if hasattr(model, "rotary") else HFWeights(model, consume)
        cfg = w.config
        self.plan = plan
        self.n_layers = cfg["num_hidden_layers"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads") or self.n_heads
        self.head_dim = cfg.get("head_dim") or cfg["hidden_size"] // self.n_heads
        self.eps = cfg["rms_norm_eps"]
        self.dtype = dtype = plan.act_dtype
        self.max_len = max_len
        self.prefill_chunk = plan.prefill_chunk  # rows per prefill step (model/decode.py)

        # Matrices stay in the load dtype until each form is made (the quantizers widen a block
        # of rows at a time): an fp32 copy of every matrix first doubled the build's temporaries.
        def lin(*names):
            mats = [w.get(f"{n}.weight") for n in names]
            weight = torch.cat(mats)
            del mats
            biases = [w.get(f"{n}.bias") for n in names]
            b = torch.cat([b.float() for b in biases]) if all(b is not None for b in biases) else None
            return QLinear(weight, b, plan.decode, plan.prefill, dtype)

        # The head first: its conversion has the largest temporaries (a 49k-row matrix in fp32),
        # best paid before the layers' forms exist. Rows of the embedding are looked up, never
        # multiplied: bf16 halves the table at no cost in speed, and costs less precision than
        # the quantized forms do (a dense fp32 plan keeps fp32).
        exact = "fp32" in (plan.decode, plan.prefill)
        table = torch.float32 if exact else torch.bfloat16
        embed = w.get("model.embed_tokens.weight")
        head = embed if w.tied else w.get("lm_head.weight")
        # Unpacking the 49k-row head would need a 56 MB scratch: a tied head prefills (scoring) in
        # bf16 instead, which is the embedding table at no cost; an untied one in its decode form.
        head_prefill = plan.prefill if plan.prefill != "int4dq" else ("bf16" if w.tied else plan.decode)
        self.lm_head = QLinear(head, None, plan.decode, head_prefill, dtype)
        del head
        dense = [f.q for f in (self.lm_head.decode, self.lm_head.prefill) if f.params is None and f.q.dtype == table]
        # Tied weights: the head's dense form holds the embedding table's very values, once.
        self.embed = dense[0] if w.tied and dense else embed.to(table)
        del embed
        self.layers = []
        for i in range(self.n_layers):
            p = f"model.layers.{i}"
            self.layers.append({
                "ln1": w.get(f"{p}.input_layernorm.weight").to(dtype),
                "wqkv": lin(f"{p}.self_attn.q_proj", f"{p}.self_attn.k_proj", f"{p}.self_attn.v_proj"),
                "wo": lin(f"{p}.self_attn.o_proj"),
                "ln2": w.get(f"{p}.post_attention_layernorm.weight").to(dtype),
                "w13": lin(f"{p}.mlp.gate_proj", f"{p}.mlp.up_proj"),
                "w2": lin(f"{p}.mlp.down_proj"),
            })
            w.release(i)
            release_freed_memory()  # the layer's temporaries, before the next one's are made
        self.norm = w.get("model.norm.weight").to(dtype)
        cos, sin = w.rotary(max_len)
        self.cos, self.sin = cos.to(dtype), sin.to(dtype)  # (max_len, D)

    @property
    def weight_bytes(self) -> int:
        mats = [m for L in self.layers for m in (L["wqkv"], L["wo"], L["w13"], L["w2"])] + [self.lm_head]
        return sum(m.nbytes for m in mats) + self.embed.numel() * self.embed.element_size()

    def new_cache(self) -> KVCache:
        cap = min(self.max_len, INITIAL_CACHE)
        shape = (1, self.n_kv, cap, self.head_dim)
        return KVCache([torch.zeros(shape, dtype=self.dtype) for _ in range(self.n_layers)],
                       [torch.zeros(shape, dtype=self.dtype) for _ in range(self.n_layers)], self.max_len, cap)

    def _rms(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x.float(), (x.shape[-1],), eps=self.eps).to(self.dtype) * w

    @staticmethod
    def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
        return x * cos + rotated * sin

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, cache: KVCache, start: int, last_only: bool = True) -> torch.Tensor:
        """ids (1, T) at positions start..start+T-1 -> logits (1, T or 1, V) in float32."""
        T = ids.shape[1]
        end = start + T
        if end > cache.max_len:
            raise ValueError(f"sequence of {end} tokens exceeds the KV cache ({cache.max_len})")
        cache.ensure(end)
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        x = self.embed[ids].to(self.dtype)  # (1, T, C)
        cos, sin = self.cos[start:end], self.sin[start:end]  # (T, D)
        # One query row needs no mask; T rows see the cached prefix plus a causal triangle.
        mask = None if T == 1 else torch.ones(T, end, dtype=torch.bool).tril(diagonal=start)
        for i, L in enumerate(self.layers):
            qkv = L["wqkv"](self._rms(x, L["ln1"]))  # (1, T, (H + 2KV) D)
            q, k, v = qkv.split([H * D, KV * D, KV * D], dim=-1)
            q = self._rope(q.view(1, T, H, D).transpose(1, 2), cos, sin)  # (1, H, T, D)
            k = self._rope(k.view(1, T, KV, D).transpose(1, 2), cos, sin)  # (1, KV, T, D)
            cache.k[i][:, :, start:end] = k
            cache.v[i][:, :, start:end] = v.view(1, T, KV, D).transpose(1, 2)
            o = F.scaled_dot_product_attention(
                q, cache.k[i][:, :, :end], cache.v[i][:, :, :end], attn_mask=mask, enable_gqa=KV != H
            )  # (1, H, T, D)
            x = x + L["wo"](o.transpose(1, 2).reshape(1, T, H * D))
            gate, up = L["w13"](self._rms(x, L["ln2"])).chunk(2, dim=-1)
            x = x + L["w2"](F.silu(gate) * up)
        x = self._rms(x[:, -1:] if last_only else x, self.norm)
        return self.lm_head(x).float()


def _free(module) -> None:
    for p in module.parameters():
        p.data = torch.empty(0, dtype=p.dtype)


@dataclass
class HFCache:
    cache: object  # transformers DynamicCache
    max_len: int


class HFBackbone:
    """Any causal LM through transformers, with a DynamicCache cropped to the reused prefix."""

    def __init__(self, hf_model, max_len: int):
        import inspect

        self.model = hf_model.eval()
        self.max_len = max_len
        params = inspect.signature(hf_model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"

    def new_cache(self) -> HFCache:
        from transformers import DynamicCache

        return HFCache(DynamicCache(config=self.model.config), self.max_len)

    @torch.inference_mode()
    def forward(self, ids: torch.Tensor, cache: HFCache, start: int, last_only: bool = True) -> torch.Tensor:
        extra = cache.cache.get_seq_length() - start
        if extra > 0:
            cache.cache.crop(-extra)  # transformers 5 crops by a negative count of tokens to drop
        pos = torch.arange(start, start + ids.shape[1])[None]
        out = self.model(input_ids=ids, position_ids=pos, use_cache=True, logits_to_keep=1 if last_only else 0,
                         **{self._cache_kwarg: cache.cache})
        return out.logits.float()
