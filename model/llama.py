"""A compact Llama-family decoder for fast CPU inference (gpt-fast / nanoGPT style).

Built from a loaded Hugging Face model (Llama, Mistral, Qwen2 share the layout), with fused
q/k/v and gate/up matrices, weight-only quantization for decoding and a static KV cache that a
new prompt can reuse up to its first differing token. Anything else runs through HFBackbone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from model.quant import QLinear

SUPPORTED = {"llama", "mistral", "qwen2"}


@dataclass
class KVCache:
    k: list[torch.Tensor]  # per layer (1, KV, max_len, D)
    v: list[torch.Tensor]
    max_len: int


class FastLlama:
    def __init__(self, hf_model, quantize: str, dtype: torch.dtype, max_len: int, keep_dense: bool = True):
        cfg = hf_model.config
        self.n_layers = cfg.num_hidden_layers
        self.n_heads = cfg.num_attention_heads
        self.n_kv = getattr(cfg, "num_key_value_heads", None) or self.n_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // self.n_heads
        self.eps = cfg.rms_norm_eps
        self.dtype = dtype
        self.max_len = max_len
        inner = hf_model.model

        def lin(*mods):
            w = torch.cat([m.weight.detach().float() for m in mods])
            biases = [m.bias for m in mods]
            b = torch.cat([b.detach().float() for b in biases]) if all(b is not None for b in biases) else None
            return QLinear(w, b, quantize, dtype, keep_dense)

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
        self.embed = inner.embed_tokens.weight.detach().to(dtype)
        self.norm = inner.norm.weight.detach().to(dtype)
        self.lm_head = lin(hf_model.lm_head)
        # The model's own rotary module gives cos/sin for every rope variant (default, llama3, yarn).
        pos = torch.arange(max_len)[None]
        cos, sin = inner.rotary_emb(torch.zeros(1, dtype=torch.float32), pos)
        self.cos, self.sin = cos[0].to(dtype), sin[0].to(dtype)  # (max_len, D)

    def new_cache(self) -> KVCache:
        shape = (1, self.n_kv, self.max_len, self.head_dim)
        return KVCache([torch.zeros(shape, dtype=self.dtype) for _ in range(self.n_layers)],
                       [torch.zeros(shape, dtype=self.dtype) for _ in range(self.n_layers)], self.max_len)

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
        H, KV, D = self.n_heads, self.n_kv, self.head_dim
        x = self.embed[ids]  # (1, T, C)
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
