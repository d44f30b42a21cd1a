"""A compact Llama-family decoder for fast CPU inference (gpt-fast / nanoGPT style).

Built from a loaded Hugging Face model (Llama, Mistral, Qwen2 share the layout), with fused
q/k/v and gate/up matrices in the forms the kernel plan chose for this machine (model/kernels.py),
and a KV cache, sized to what is in use and grown on demand, that a new prompt can reuse up to
its first differing token. Anything else runs through HFBackbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.kernels import KernelPlan
from model.quant import QLinear

SUPPORTED = {"llama", "mistral", "qwen2"}


INITIAL_CACHE = 1280  # tokens: a default prompt budget (1024) and its completion, before any growth


@dataclass
class KVCache:
    k: list[torch.Tensor]  # per layer (1, KV, capacity, D)
    v: list[torch.Tensor]
    max_len: int  # the most it may ever hold
    capacity: int  # what it holds now; grows (doubling) up to max_len

    def ensure(self, end: int) -> None:
        """Room for `end` tokens: grown by copying, so short prompts never pay for a long context."""
        if end <= self.capacity:
            return
        cap = min(self.max_len, max(end, 2 * self.capacity))
        for store in (self.k, self.v):
            for i, t in enumerate(store):
                grown = t.new_zeros(t.shape[0], t.shape[1], cap, t.shape[3])
                grown[:, :, : self.capacity] = t
                store[i] = grown
        self.capacity = cap


class FastLlama:
    def __init__(self, hf_model, plan: KernelPlan, max_len: int, consume: bool = False):
        cfg = hf_model.config
        self.plan = plan
        self.n_layers = cfg.num_hidden_layers
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.eps = cfg.rms_norm_eps
        self.dtype = dtype = plan.act_dtype
        self.max_len = max_len
        inner = hf_model.model

        def lin(*mods):
            w = torch.cat([m.weight.detach().float() for m in mods])
            biases = [m.bias for m in mods]
            b = torch.cat([b.detach().float() for b in biases]) if all(b is not None for b in biases) else None
            return QLinear(w, b, plan.decode, plan.prefill, dtype)

        # Layer by layer; with `consume`, each HF layer's weights are freed once converted, so the
        # load never holds two full copies of the model (the engine owns the HF model it loaded).
        self.layers = []
        for layer in inner.layers:
            at, mlp = layer.self_attn, layer.mlp
            self.layers.append({
                "ln1": layer.input_layernorm.weight.detach().to(dtype),
                "wqkv": lin(at.q_proj, at.k_proj, at.v_proj),
                "wo": lin(at.o_proj),
                "ln2": layer.post_attention_layernorm.weight.detach().to(dtype),
                "w13": lin(mlp.gate_proj, mlp.up_proj),
                "w2": lin(mlp.down_proj),
            })
            if consume:
                _free(layer)
        # Rows are looked up, never multiplied: bf16 halves the table at no cost in speed, and
        # costs less precision than the quantized forms do (a dense fp32 plan keeps fp32).
        exact = "fp32" in (plan.decode, plan.prefill)
        self.embed = inner.embed_tokens.weight.detach().to(torch.float32 if exact else torch.bfloat16)
        self.norm = inner.norm.weight.detach().to(dtype)
        self.lm_head = lin(hf_model.lm_head)
        # The model's own rotary module gives cos/sin for every rope variant (default, llama3, yarn).
        pos = torch.arange(max_len)[None]
        cos, sin = inner.rotary_emb(torch.zeros(1, dtype=torch.float32), pos)
        self.cos, self.sin = cos[0].to(dtype), sin[0].to(dtype)  # (max_len, D)

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
