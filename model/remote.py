"""A remote OpenAI-compatible server (vLLM, llama.cpp server, TGI): the path past one machine.

The prompt is built here with the same FIM template and the same window as the local engine
(model/tasks/window.py, counted in characters: the server holds the tokenizer) and sent as a raw
prompt to /v1/completions with streaming; the shared skeleton (model/completion.py) applies the
same stop rules, and the connection is closed as soon as a rule fires or the request is
cancelled, so the server stops generating too.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

from model import completion
from model.config import EngineConfig
from model.engine import EngineError
from model.fim import FimTemplate, get_template
from model.tasks.window import CHARS_PER_TOKEN, CharEncoder, FimPromptBuilder
from model.types import NEVER_CANCELLED, CancelToken, ChatMessage, Completion, CompletionRequest, EngineInfo, TokenScore

REMOTE_CONTEXT = 1 << 20  # tokens; the server enforces its own context, we only bound the prompt


def token_logprobs(choice: dict) -> list[float]:
    """The generated tokens' log-probabilities in a streamed /v1/completions choice."""
    lp = choice.get("logprobs") or {}
    if isinstance(lp.get("content"), list):  # llama-server
        return [float(t["logprob"]) for t in lp["content"] if t.get("logprob") is not None]
    return [float(v) for v in lp.get("token_logprobs") or [] if v is not None]  # vLLM, OpenAI legacy


class RemoteEngine:
    def __init__(self, url: str, model: str, template: FimTemplate, api_key: str = "", timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.model = model
        self.template = template
        self.api_key = api_key
        self.timeout = timeout
        self.stop_strings = tuple(template.stop)
        self.builder = FimPromptBuilder(CharEncoder(), template)
        self.info = EngineInfo(name=model or self.url, backend="remote", fim_template=template.name, device="remote",
                               context_length=REMOTE_CONTEXT)

    @classmethod
    def from_config(cls, config: EngineConfig) -> "RemoteEngine":
        name = config.fim_template if config.fim_template != "auto" else "none"
        return cls(config.remote_url, config.remote_model, get_template(name), config.remote_api_key)

    def _post(self, path: str, body: dict):
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(), headers=headers)
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode(errors="replace")
            raise EngineError(f"remote server {self.url} answered {exc.code} on {path}: {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise EngineError(f"cannot reach the remote server {self.url}: {exc}") from exc

    def _stream(self, path: str, body: dict, cancel: CancelToken) -> Iterator[dict]:
        try:
            with self._post(path, {**body, "stream": True}) as resp:
                for raw in resp:
                    if cancel.stopped:
                        return  # leaving the with-block closes the connection
                    line = raw.decode("utf-8", errors="replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield json.loads(data)
        except (http.client.HTTPException, OSError) as exc:
            raise EngineError(f"the remote server {self.url} broke off the stream: {exc!r}") from exc
        # The stream ended without [DONE]: the server died or the connection was cut, so what
        # arrived is not the model's whole answer.
        raise EngineError(f"the remote server {self.url} closed the stream before it finished (no [DONE])")

    def complete(self, request: CompletionRequest, cancel: CancelToken | None = None) -> list[Completion]:
        return completion.complete(self, request, cancel)

    def stream_fim(self, request: CompletionRequest, budget: int, gen: completion.Generation,
                   cancel: CancelToken) -> Iterator[tuple[str, float | None]]:
        t0 = time.perf_counter()
        # The same repository context as the local engine's, rendered as text.
        prompt = "".join(self.builder.build(request.prefix, request.suffix, int(budget * CHARS_PER_TOKEN), request.context,
                                            request.repo_name, request.repo_path or request.path).pieces)
        # logprobs: the sampled tokens' log-probabilities, for the confidence (llama-server reads
        # it as n_probs; vLLM and the OpenAI API as the legacy field).
        body = {"model": self.model, "prompt": prompt, "max_tokens": request.max_tokens,
                "temperature": request.temperature, "stop": list(self.template.stop) or None, "logprobs": 1}
        t = gen.timings
        t.prompt_tokens = int(len(prompt) / CHARS_PER_TOKEN)
        text = ""
        for chunk in self._stream("/completions", body, cancel):
            if not text:
                t.prefill_ms = (time.perf_counter() - t0) * 1000
            choice = chunk["choices"][0]
            piece = choice.get("text", "")
            text += piece
            logps = token_logprobs(choice)
            t.generated_tokens += max(1, len(logps)) if piece else 0
            if piece:
                # One value per chunk: the mean of its tokens', so the skeleton's mean stays fair.
                yield text, (sum(logps) / len(logps)) if logps else None
        if not cancel.stopped:
            gen.finish = "eos"

    def generate(self, messages: Sequence[ChatMessage], cancel: CancelToken | None = None,
                 max_tokens: int = 512, temperature: float = 0.0) -> Iterator[str]:
        cancel = cancel or NEVER_CANCELLED
        body = {"model": self.model, "messages": list(messages), "max_tokens": max_tokens, "temperature": temperature}
        for chunk in self._stream("/chat/completions", body, cancel):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                yield delta

    def score(self, text: str, cancel: CancelToken | None = None) -> list[TokenScore]:
        body = {"model": self.model, "prompt": text, "max_tokens": 1, "echo": True, "logprobs": 1, "temperature": 0}
        with self._post("/completions", body) as resp:
            data = json.loads(resp.read())
        lp = (data.get("choices") or [{}])[0].get("logprobs") or {}
        tokens, values = lp.get("tokens"), lp.get("token_logprobs")
        offsets, tops = lp.get("text_offset"), lp.get("top_logprobs") or []
        if not tokens or values is None or offsets is None:
            raise EngineError(f"the remote server {self.url} does not return prompt log-probabilities (echo + logprobs)")
        out = []
        for i in range(1, min(len(tokens), len(values))):
            start = offsets[i]
            if start >= len(text) or values[i] is None:
                continue  # the generated token after the echo
            end = offsets[i + 1] if i + 1 < len(offsets) else len(text)
            top = tops[i] if i < len(tops) and tops[i] else {tokens[i]: values[i]}
            best, best_lp = max(top.items(), key=lambda kv: kv[1])
            out.append(TokenScore(start, min(end, len(text)), tokens[i], float(values[i]), best, float(best_lp)))
        return out
