"""The local engine: a checkpoint on this machine, decoded by our own loop.

prefill (only the tokens after the longest common prefix with the cached prompt) -> one decode
step per token -> a token iterator that the stop rules consume. Separate KV caches for
completions, chat generations and scoring, so a translation or a diagnostics pass never evicts
the completion's cached prompt.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import replace

import torch

from model.config import EngineConfig
from model.engine import EngineError
from model.factory import Progress
from model.fim import FimTemplate, get_template
from model.llama import SUPPORTED, FastLlama, HFBackbone
from model.loading import check_memory, count_params, estimate_bytes, load_hf, plan, resolve
from model.prompt import PromptBuilder
from model.stops import StopChecker, choose_mode, finish_completion
from model.types import NEVER_CANCELLED, CancelToken, ChatMessage, Completion, CompletionRequest, EngineInfo, Timings, TokenScore

PREFILL_CHUNK = 256  # tokens per prefill step: the cancel flag is checked between chunks


class Slot:
    """One KV cache and the token ids whose keys and values it holds."""

    def __init__(self, backbone) -> None:
        self.cache = backbone.new_cache()
        self.ids: list[int] = []


class LocalEngine:
    def __init__(self, backbone, tokenizer, template: FimTemplate, info: EngineInfo) -> None:
        self.backbone = backbone
        self.tok = tokenizer
        self.template = template
        self.info = info
        self.builder = PromptBuilder(tokenizer, template)
        self.max_len = backbone.max_len
        vocab = tokenizer.get_vocab()
        stop_tokens = set(template.stop) | {tokenizer.eos_token or ""}
        self.stop_ids = {vocab[t] for t in stop_tokens if t in vocab}
        self.stop_strings = tuple(s for s in template.stop if s not in vocab)
        self.slots: dict[str, Slot] = {}
        self._vocab_text: list[str] | None = None
        self._heal_cache: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.lookahead = 3  # prompt-lookup draft length (3 measured best of 0, 3, 6); 0 turns it off

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, config: EngineConfig, progress: Progress | None = None) -> "LocalEngine":
        report = progress or (lambda msg, frac: None)
        if config.device == "auto":
            config = replace(config, device="cuda" if torch.cuda.is_available() else "cpu")
        report("finding the model", 0.0)
        resolved = resolve(config.model, config.adapter)
        params = count_params(resolved.model_dir)
        load_dtype, compute, quant, keep_dense = plan(config, params)
        check_memory(estimate_bytes(params, load_dtype, compute, quant, keep_dense),
                     f"{resolved.model_dir.name} ({params / 1e6:.0f}M parameters, {quant})")
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        report(f"loading {resolved.model_dir.name}", 0.2)
        hf, tokenizer = load_hf(resolved, load_dtype, config.device)
        name = config.fim_template if config.fim_template != "auto" else resolved.meta.get("fim_template", "auto")
        template = get_template(name, tokenizer.get_vocab())
        max_len = min(config.max_context, getattr(hf.config, "max_position_embeddings", config.max_context))
        report(f"preparing weights ({quant})", 0.6)
        if hf.config.model_type in SUPPORTED and hf.device.type == "cpu":
            backbone = FastLlama(hf, quant, compute, max_len, keep_dense=keep_dense)
            del hf
        else:
            quant = "none"
            backbone = HFBackbone(hf.to(compute), max_len)
        label = str(resolved.model_dir.name) + (f" + {resolved.adapter_dir.name}" if resolved.adapter_dir else "")
        info = EngineInfo(name=label, backend="local", fim_template=template.name, device=config.device,
                          quantization=quant, context_length=max_len)
        engine = cls(backbone, tokenizer, template, info)
        if template.ends_with_prefix():
            engine._heal_candidates(" ")  # decode the vocabulary now, not on the first keystroke
        report("ready", 1.0)
        return engine

    # ---- the decode loop -----------------------------------------------------------------
    def _slot(self, name: str) -> Slot:
        if name not in self.slots:
            self.slots[name] = Slot(self.backbone)
        return self.slots[name]

    def _prefill(self, slot: Slot, ids: list[int], cancel: CancelToken) -> tuple[torch.Tensor | None, int]:
        """Run the tokens the cache does not hold yet. Returns (last logits, tokens reused)."""
        if len(ids) >= self.max_len:
            raise EngineError(f"prompt of {len(ids)} tokens does not fit the context of {self.max_len}")
        common = 0
        for a, b in zip(slot.ids, ids):
            if a != b:
                break
            common += 1
        common = min(common, len(ids) - 1)  # at least one token runs, for fresh logits
        del slot.ids[common:]
        logits = None
        for start in range(common, len(ids), PREFILL_CHUNK):
            if cancel.cancelled:
                return None, common
            chunk = ids[start : start + PREFILL_CHUNK]
            logits = self.backbone.forward(torch.tensor([chunk]), slot.cache, start)
            slot.ids.extend(chunk)
        return logits[0, -1], common

    def _decode(self, slot: Slot, logits: torch.Tensor, max_new: int, cancel: CancelToken,
                temperature: float = 0.0, heal: str = "") -> Iterator[tuple[int, float]]:
        """Yield (token, log-probability); the next step runs only if the caller asks for more.

        Greedy decoding also tries prompt-lookup speculation: when the last tokens occurred
        earlier in the context, the tokens that followed them there are checked in the same
        forward pass, and every one the model agrees with is accepted for free.
        """
        produced = 0
        remaining = heal  # text the generated tokens must reproduce first (token healing)
        while produced < max_new:
            logprobs = logits.log_softmax(-1)
            if remaining:
                allowed = self._heal_candidates(remaining)
                masked = torch.full_like(logprobs, -math.inf)
                masked[allowed] = logprobs[allowed]
                logprobs = masked
            if temperature > 0:
                tok = int(torch.multinomial((logprobs / temperature).softmax(-1), 1))
            else:
                tok = int(logprobs.argmax())
            if remaining:
                piece = self._vocab_text[tok]
                remaining = "" if piece.startswith(remaining) else remaining[len(piece):]
            yield tok, float(logprobs[tok])
            produced += 1
            if tok in self.stop_ids or cancel.cancelled or len(slot.ids) + 1 >= self.max_len:
                return
            room = min(max_new - produced, self.max_len - len(slot.ids) - 2)
            draft = self._lookup(slot.ids, tok, min(self.lookahead, room)) if temperature == 0 and not remaining else []
            out = self.backbone.forward(torch.tensor([[tok, *draft]]), slot.cache, len(slot.ids),
                                        last_only=not draft)[0]  # (1 + len(draft), V)
            slot.ids.append(tok)
            accepted = 0
            for i, d in enumerate(draft):
                if int(out[i].argmax()) != d:
                    break
                yield d, float(out[i].log_softmax(-1)[d])
                produced += 1
                accepted += 1
                slot.ids.append(d)
                if d in self.stop_ids or cancel.cancelled:
                    return
            logits = out[accepted]

    def _lookup(self, ids: list[int], tok: int, k: int, n: int = 3) -> list[int]:
        """The k tokens that followed the latest earlier occurrence of the context's last n tokens."""
        if k <= 0:
            return []
        ctx = ids + [tok]
        key = ctx[-n:]
        for i in range(len(ctx) - n - 1, -1, -1):
            if ctx[i : i + n] == key:
                return ctx[i + n : i + n + k]
        return []

    # ---- token healing (prefix-only prompts) ----------------------------------------------
    def _heal_candidates(self, text: str) -> torch.Tensor:
        """Tokens that could come next while `text` is still to be reproduced: those that start
        with it, and those that are a beginning of it ("\n   " for a healed "\n    ", so that the
        model can still choose the usual " if" after it)."""
        if self._vocab_text is None:
            self._vocab_text = self.tok.batch_decode([[i] for i in range(len(self.tok))])
        if text not in self._heal_cache:
            allowed = [i for i, t in enumerate(self._vocab_text)
                       if t and (t.startswith(text) or text.startswith(t)) and i not in self.stop_ids]
            self._heal_cache[text] = torch.tensor(allowed or [self.tok.convert_tokens_to_ids(text)])
            if len(self._heal_cache) > 256:
                self._heal_cache.popitem(last=False)
        return self._heal_cache[text]

    # ---- the Engine interface -------------------------------------------------------------
    def complete(self, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
        cancel = cancel or NEVER_CANCELLED
        t0 = time.perf_counter()
        mode = choose_mode(request.prefix, request.suffix) if request.mode == "auto" else request.mode
        budget = max(16, min(request.budget, self.max_len - request.max_tokens - 8))
        prompt = self.builder.build(request.prefix, request.suffix, budget)
        ids, heal = prompt.ids, ""
        if self.template.ends_with_prefix() and len(ids) > 1 and ids[-1] not in self.builder.markers.values():
            # Token healing: the prefix's last token may be a fragment ("x = " ends in " "); drop
            # it and let the model write it again in whichever tokens it prefers.
            heal = self.tok.decode(ids[-1:])
            ids = ids[:-1]
        if not ids:
            return []
        slot = self._slot("complete")
        logits, cached = self._prefill(slot, ids, cancel)
        t1 = time.perf_counter()
        timings = Timings(prompt_tokens=len(ids), cached_tokens=cached, prefill_ms=(t1 - t0) * 1000)
        if logits is None:
            return []
        checker = StopChecker(mode, request.prefix)
        gen: list[int] = []
        logps: list[float] = []
        reason, text = "max_tokens", ""
        for tok, lp in self._decode(slot, logits, request.max_tokens, cancel, request.temperature, heal):
            if tok in self.stop_ids:
                reason = "eos"
                break
            gen.append(tok)
            logps.append(lp)
            text = self.tok.decode(gen)[len(heal):]
            cut = next((text.index(s) for s in self.stop_strings if s in text), None)
            if cut is not None:
                text, reason = text[:cut], "eos"
                break
            hit = checker.check(text)
            if hit:
                reason = hit[1]
                break
        timings.generated_tokens = len(gen)
        timings.decode_ms = (time.perf_counter() - t1) * 1000
        timings.total_ms = (time.perf_counter() - t0) * 1000
        if cancel.cancelled:
            return []
        text, why = finish_completion(text, request.prefix, request.suffix, mode)
        if why not in ("eos",):
            reason = why
        if not text.strip():
            return []
        confidence = math.exp(sum(logps) / len(logps)) if logps else 0.0
        return [Completion(text=text, confidence=confidence, timings=timings, stop_reason=reason, mode=mode)]

    def generate(self, messages: Sequence[ChatMessage], cancel: CancelToken | None = None,
                 max_tokens: int = 512) -> Iterator[str]:
        cancel = cancel or NEVER_CANCELLED
        prompt = self.tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        ids = self.tok(prompt, add_special_tokens=False)["input_ids"]
        max_tokens = min(max_tokens, self.max_len - len(ids) - 1)
        if max_tokens <= 0:
            raise EngineError(f"the request is {len(ids)} tokens; the model's context is {self.max_len}")
        slot = self._slot("generate")
        logits, _ = self._prefill(slot, ids, cancel)
        if logits is None:
            return
        gen: list[int] = []
        sent = ""
        for tok, _lp in self._decode(slot, logits, max_tokens, cancel):
            if tok in self.stop_ids:
                break
            gen.append(tok)
            text = self.tok.decode(gen)
            if text.endswith("\ufffd"):
                continue  # half of a multi-byte character: wait for the rest
            if text.startswith(sent):
                delta, sent = text[len(sent):], text
                if delta:
                    yield delta

    def score(self, text: str, cancel: CancelToken | None = None) -> list[TokenScore]:
        cancel = cancel or NEVER_CANCELLED
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        out: list[TokenScore] = []
        window = self.max_len - 1
        slot = self._slot("score")
        for w0 in range(0, len(ids), window):
            part = ids[w0 : w0 + window + 1]
            if len(part) < 2 or cancel.cancelled:
                break
            # Every position's logits are needed, so nothing is reused from the cache: scoring
            # has its own slot only to leave the completion's cached prompt alone.
            logits = []
            for start in range(0, len(part), PREFILL_CHUNK):
                if cancel.cancelled:
                    return out
                chunk = part[start : start + PREFILL_CHUNK]
                logits.append(self.backbone.forward(torch.tensor([chunk]), slot.cache, start, last_only=False)[0])
            slot.ids = list(part)
            logprobs = torch.cat(logits).log_softmax(-1)  # (T, V)
            target = torch.tensor(part[1:])
            lp = logprobs[:-1].gather(1, target[:, None])[:, 0]
            best_lp, best = logprobs[:-1].max(-1)
            for j in range(len(part) - 1):
                k = w0 + j + 1
                s, e = offsets[k]
                out.append(TokenScore(s, e, text[s:e], float(lp[j]), self.tok.decode([int(best[j])]), float(best_lp[j])))
        return out
