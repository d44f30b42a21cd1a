"""The local engine: a checkpoint on this machine, decoded by our own loop (model/decode.py).

Completions go through the shared skeleton (model/completion.py) with the shared prompt window
(model/tasks/window.py); chat generations through the tokenizer's chat template; scoring through
one forward pass per window. Each has its own KV cache slot.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

import torch

from model import completion
from model.adaptive import PrefillClock, narrow_budget
from model.config import EngineConfig
from model.decode import Decoder
from model.engine import EngineError
from model.fim import FimTemplate, get_template
from model.healing import Healer
from model.llama import FastLlama, HFBackbone
from model.memory import keep_large_allocations_out_of_the_heap, release_freed_memory
from model.loading import (check_memory, count_params, estimate_bytes, fast_path_plan, load_dtype, load_fast,
                           load_hf, load_tokenizer, read_config, resolve)
from model.tasks.window import FimPromptBuilder
from model.threads import ThreadPolicy
from model.types import (NEVER_CANCELLED, CancelToken, ChatMessage, Completion, CompletionRequest, EngineInfo,
                         Progress, TokenScore)


SCORE_CHUNK = 64  # tokens per scoring step: its (T, vocabulary) logits are the step's largest temporaries


class LocalEngine:
    branches = True  # alternatives branch on the first token from the cached prompt (model/completion.py)

    def __init__(self, backbone, tokenizer, template: FimTemplate, info: EngineInfo) -> None:
        self.backbone = backbone
        self.tok = tokenizer
        self.template = template
        self.info = info
        self.builder = FimPromptBuilder.for_tokenizer(tokenizer, template)
        self.max_len = backbone.max_len
        vocab = tokenizer.get_vocab()
        stop_tokens = set(template.stop) | {tokenizer.eos_token or ""}
        stop_ids = {vocab[t] for t in stop_tokens if t in vocab}
        self.stop_strings = tuple(s for s in template.stop if s not in vocab)
        self.decoder = Decoder(backbone, stop_ids)
        self.healer = Healer(tokenizer, stop_ids)
        self.clock = PrefillClock()  # how fast this engine prefills now (model/adaptive.py)
        self.threads = ThreadPolicy()  # fewer threads when other processes want the cores

    @property
    def stop_ids(self) -> set[int]:
        return self.decoder.stop_ids

    # ---- loading -------------------------------------------------------------------------
    @classmethod
    def load(cls, config: EngineConfig, progress: Progress | None = None) -> "LocalEngine":
        report = progress or (lambda msg, frac: None)
        keep_large_allocations_out_of_the_heap()  # model/memory.py: freed tensors leave the resident set
        if config.device == "auto":
            config = replace(config, device="cuda" if torch.cuda.is_available() else "cpu")
        report("finding the model", 0.0)
        resolved = resolve(config.model, config.adapter)
        params = count_params(resolved.model_dir)
        report("choosing kernels for this CPU", 0.05)
        hf_config = read_config(resolved.model_dir)
        kernels = fast_path_plan(config, hf_config)
        dtype = load_dtype(kernels, config, params)
        check_memory(estimate_bytes(params, dtype, kernels),
                     f"{resolved.model_dir.name} ({params / 1e6:.0f}M parameters)")
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        report(f"loading {resolved.model_dir.name}", 0.2)
        tokenizer = load_tokenizer(resolved)
        name = config.fim_template if config.fim_template != "auto" else resolved.meta.get("fim_template", "auto")
        template = get_template(name, tokenizer.get_vocab())
        max_len = min(config.max_context, hf_config.get("max_position_embeddings", config.max_context))
        backbone = None
        if kernels is not None:
            # Straight from the files into the plan's forms: no transformers model is built
            # (model/checkpoint.py); a checkpoint it cannot read goes through transformers.
            report(f"preparing weights ({kernels.describe()})", 0.3)
            backbone = load_fast(resolved, kernels, dtype, hf_config, max_len, tokenizer)
        if backbone is not None:
            quant = kernels.decode
        else:
            hf, _ = load_hf(resolved, dtype, config.device, report, tokenizer)
            max_len = min(config.max_context, getattr(hf.config, "max_position_embeddings", config.max_context))
            if kernels is not None:
                report(f"preparing weights ({kernels.describe()})", 0.6)
                backbone = FastLlama(hf, kernels, max_len, consume=True)
                quant = kernels.decode
            else:
                quant = "none"
                backbone = HFBackbone(hf, max_len)
            del hf
        label = str(resolved.model_dir.name) + (f" + {resolved.adapter_dir.name}" if resolved.adapter_dir else "")
        info = EngineInfo(name=label, backend="local", fim_template=template.name, device=config.device,
                          quantization=quant, context_length=max_len)
        gc.collect()
        release_freed_memory()
        engine = cls(backbone, tokenizer, template, info)
        engine.threads = ThreadPolicy(config.threads, adaptive=config.adaptive_threads)
        engine.decoder.pace = engine.threads.apply
        if template.ends_with_prefix():
            engine.healer.candidates(" ")  # decode the vocabulary now, not on the first keystroke
        report("ready", 1.0)
        return engine

    # ---- the Engine interface -------------------------------------------------------------
    def complete(self, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
        self.threads.apply()
        return completion.complete(self, request, cancel)

    def _fim_ids(self, request: CompletionRequest, budget: int) -> tuple[list[int], str]:
        """The prompt's ids and, with token healing (model/healing.py), the text of the last
        token, dropped from the prompt because it may be a fragment."""
        ids, heal = self.builder.build(request.prefix, request.suffix, budget, request.context, request.repo_name,
                                       request.repo_path or request.path).ids, ""
        if self.template.ends_with_prefix() and len(ids) > 1 and ids[-1] not in self.builder.markers.values():
            heal = self.tok.decode(ids[-1:])
            ids = ids[:-1]
        return ids, heal

    def stream_fim(self, request: CompletionRequest, budget: int, gen: completion.Generation,
                   cancel: CancelToken) -> Iterator[tuple[str, float | None]]:
        t0 = time.perf_counter()
        ids, heal = self._fim_ids(request, budget)
        slot_name = "complete"
        narrow = narrow_budget(len(ids) - self.decoder.cached(slot_name, ids), request.time_budget_ms, budget,
                               self.clock)
        if narrow is not None:  # not enough time for the whole window: a narrower one, in a slot of its own
            ids, heal = self._fim_ids(request, narrow)
            slot_name = "narrow"
            gen.narrowed = True
        if not ids:
            return
        slot = self.decoder.slot(slot_name)
        t1 = time.perf_counter()
        logits, cached = self.decoder.prefill(slot, ids, cancel)
        t = gen.timings
        t.prompt_tokens, t.cached_tokens, t.prefill_ms = len(ids), cached, (time.perf_counter() - t0) * 1000
        if logits is None:
            return
        self.clock.record(len(ids) - cached, time.perf_counter() - t1)
        if cancel.abandoned:
            return  # too late to show: the prefill is kept, the decoding is not paid for
        generated: list[int] = []
        healing = self.healer.start(heal) if heal else None
        for tok, lp in self.decoder.tokens(slot, logits, request.max_tokens, cancel, request.temperature, healing,
                                           first_rank=gen.rank):
            if tok in self.stop_ids:
                gen.finish = "eos"
                return
            generated.append(tok)
            t.generated_tokens = len(generated)
            yield self.tok.decode(generated)[len(heal):], lp

    def warm(self, request: CompletionRequest, cancel: CancelToken | None = None) -> bool | None:
        """Prefill the request's full window into the completion cache, decoding nothing: the
        background half of the adaptive window. True when the cache holds it; None when
        cancelled (pre-empted: the chunks done are kept, and a rerun goes on from there)."""
        cancel = cancel or NEVER_CANCELLED
        self.threads.apply()
        ids, _ = self._fim_ids(request, completion.prompt_budget(request, self.info.context_length))
        if not ids or self.decoder.cached("complete", ids) >= len(ids) - 1:
            return True
        t1 = time.perf_counter()
        slot = self.decoder.slot("complete")
        logits, cached = self.decoder.prefill(slot, ids, cancel)
        if logits is None:
            return None
        self.clock.record(len(ids) - cached, time.perf_counter() - t1)
        # The full window is cached now: the next requests at this place use it, and a narrowed
        # prompt elsewhere shares little with the one held, so its cache only held memory.
        self.decoder.drop("narrow")
        return True

    def chat_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The token ids a chat request is prefilled with: what training renders (training/annotate.py)."""
        prompt = self.tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return self.tok(prompt, add_special_tokens=False)["input_ids"]

    def generate(self, messages: Sequence[ChatMessage], cancel: CancelToken | None = None,
                 max_tokens: int = 512, temperature: float = 0.0) -> Iterator[str]:
        cancel = cancel or NEVER_CANCELLED
        self.threads.apply()
        ids = self.chat_ids(messages)
        max_tokens = min(max_tokens, self.max_len - len(ids) - 1)
        if max_tokens <= 0:
            raise EngineError(f"the request is {len(ids)} tokens; the model's context is {self.max_len}")
        slot = self.decoder.slot("generate")
        logits, _ = self.decoder.prefill(slot, ids, cancel)
        if logits is None:
            return
        gen: list[int] = []
        sent = ""
        for tok, _lp in self.decoder.tokens(slot, logits, max_tokens, cancel, temperature):
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
        self.threads.apply()
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        out: list[TokenScore] = []
        window = self.max_len - 1
        for w0 in range(0, len(ids), window):
            part = ids[w0 : w0 + window + 1]
            if len(part) < 2 or cancel.cancelled:
                break
            # Every position's logits are needed, so nothing is reused from a cache: scoring
            # gets a cache of its own for the window (the completion's cached prompt stays), and
            # gives it back after. Each chunk's logits are reduced to what is kept before the
            # next runs: a whole window's (T, V) logits in fp32 were ~400 MB at 2,000 tokens.
            slot = self.decoder.slot("score")
            self.decoder.reserve(slot, len(part))
            lps, bests, best_lps = [], [], []
            try:
                for start in range(0, len(part), SCORE_CHUNK):
                    if cancel.cancelled:
                        return out
                    chunk = part[start : start + SCORE_CHUNK]
                    logprobs = self.backbone.forward(torch.tensor([chunk]), slot.cache, start,
                                                     last_only=False)[0].log_softmax(-1)  # (t, V)
                    target = torch.tensor(part[start + 1 : start + 1 + len(chunk)])
                    logprobs = logprobs[: len(target)]  # the window's last position predicts nothing
                    lps.append(logprobs.gather(1, target[:, None])[:, 0])
                    best_lp, best = logprobs.max(-1)
                    bests.append(best)
                    best_lps.append(best_lp)
            finally:
                self.decoder.drop("score")
                release_freed_memory()
            lp, best, best_lp = torch.cat(lps), torch.cat(bests), torch.cat(best_lps)
            for j in range(len(part) - 1):
                k = w0 + j + 1
                s, e = offsets[k]
                out.append(TokenScore(s, e, text[s:e], float(lp[j]), self.tok.decode([int(best[j])]), float(best_lp[j])))
        return out
