"""The remote backend against a real llama-server on the base GGUF (`make llamacpp` builds it).

tests/model/test_remote.py checks the wire format against a fake server; this checks that the real
thing agrees: raw FIM prompts, streaming, cancellation closing the stream, and a server that dies.
Skipped, with the reason, when llama.cpp is not built or the default model is not pulled.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from model.config import EngineConfig
from model.engine import EngineError, ModelNotFoundError
from model.factory import load_engine
from model.types import CancelToken, CompletionRequest

pytestmark = pytest.mark.slow

PREFIX = "def add(a: int, b: int) -> int:\n    \"\"\"Return the sum of a and b.\"\"\"\n    return "
# An open block and a large max_tokens: the model keeps writing long enough to be cancelled or killed.
LONG = CompletionRequest(prefix="import os\n\n\ndef main():\n", suffix="", mode="multi", max_tokens=400)


def _gguf():
    from model import llamacpp

    found, why = llamacpp.binaries()
    if found is None:
        pytest.skip(why)
    try:
        return llamacpp.base_gguf()
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def server():
    from model.llamacpp import LlamaServer

    srv = LlamaServer(_gguf(), threads=2)
    with srv:
        yield srv


def _engine(url: str, template: str = "none"):
    return load_engine(EngineConfig(backend="remote", remote_url=url, fim_template=template))


def _spy(engine, after_first=None) -> list[dict]:
    """Record the stream's chunks; run after_first() once the first chunk has been consumed."""
    chunks: list[dict] = []
    original = engine._stream

    def stream(path, body, cancel):
        for chunk in original(path, body, cancel):
            chunks.append(chunk)
            yield chunk
            if len(chunks) == 1 and after_first is not None:
                after_first(cancel)

    engine._stream = stream
    return chunks


def _slots_busy(srv) -> bool:
    with urllib.request.urlopen(srv.base + "/slots", timeout=5) as resp:
        return any(s.get("is_processing") for s in json.loads(resp.read()))


def test_prefix_only_completion_from_the_real_server(server):
    engine = _engine(server.url, "none")
    chunks = _spy(engine)
    out = engine.complete(CompletionRequest(prefix=PREFIX, suffix="\n", mode="single", max_tokens=16))
    assert out and out[0].text.strip(), f"no completion; chunks: {chunks}"
    assert "\n" not in out[0].text.rstrip("\n")  # single-line mode ended it at the line's end
    assert len(chunks) > 1  # streamed, one chunk per token or so


def test_a_prompt_with_fim_template_text_goes_through(server):
    # The base model has no <|wm_fim_*|> tokens: the markers reach it as plain text. The request
    # must still be accepted and answered (what it completes is not the point).
    engine = _engine(server.url, "wingman")
    chunks = _spy(engine)
    out = engine.complete(CompletionRequest(prefix=PREFIX, suffix="\n\nprint(add(1, 2))\n", mode="single", max_tokens=8))
    assert isinstance(out, list) and chunks


def test_cancel_after_the_first_chunk_returns_promptly_and_the_server_stays_healthy(server):
    engine = _engine(server.url)
    times: list[float] = []

    def cancel_now(cancel: CancelToken) -> None:
        times.append(time.perf_counter())
        cancel.cancel()

    chunks = _spy(engine, cancel_now)
    out = engine.complete(LONG, CancelToken())
    # No timed assertion (a loaded machine is slow): the stream is read no further than the chunk
    # that saw the cancel, and closing it is what stops llama-server, so its slot frees up long
    # before the request's tokens could have been generated (the guard is a hang guard).
    assert out == [] and len(chunks) == 1 and times
    deadline = time.monotonic() + 60
    while _slots_busy(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _slots_busy(server), "llama-server still generating 60 s after the stream was closed"
    assert server.healthy()
    again = _engine(server.url).complete(CompletionRequest(prefix=PREFIX, suffix="\n", mode="single", max_tokens=16))
    assert again and again[0].text.strip()


def _kill_mid_stream() -> tuple[dict, object, str]:
    """complete() on a server SIGKILLed right after the first chunk: (outcome, engine, url)."""
    from model.llamacpp import LlamaServer

    srv = LlamaServer(_gguf(), threads=2)
    outcome: dict = {}
    with srv as url:
        engine = _engine(url)
        _spy(engine, lambda cancel: srv.kill())

        def call() -> None:
            try:
                outcome["out"] = engine.complete(LONG, CancelToken())
            except Exception as exc:  # noqa: BLE001 - the type is what is checked
                outcome["error"] = exc

        t = threading.Thread(target=call, daemon=True)
        t.start()
        t.join(timeout=15)
        outcome["hung"] = t.is_alive()
    return outcome, engine, url


def test_a_server_killed_mid_stream_does_not_hang_and_is_then_unreachable():
    outcome, engine, _ = _kill_mid_stream()
    assert not outcome["hung"], "complete() hung after the server was killed"
    with pytest.raises(EngineError, match="cannot reach the remote server"):
        engine.complete(CompletionRequest(prefix=PREFIX))


def test_a_server_killed_mid_stream_is_a_clear_error():
    outcome, _, url = _kill_mid_stream()
    error = outcome.get("error")
    assert isinstance(error, EngineError), f"expected an EngineError, got {error!r} (returned {outcome.get('out')!r})"
    assert url.split("/v1")[0] in str(error)


def test_scoring_is_refused_clearly_since_llama_server_has_no_echo(server):
    # llama-server ignores `echo` on /v1/completions: no prompt log-probabilities, so no hints
    # through it; the engine must say so rather than return nothing.
    with pytest.raises(EngineError, match="does not return prompt log-probabilities"):
        _engine(server.url).score("def add(a, b):\n    return a + b\n")


def test_unreachable_server_is_a_clear_error():
    from model.llamacpp import _free_port

    url = f"http://127.0.0.1:{_free_port()}/v1"  # nothing listens there
    t0 = time.perf_counter()
    with pytest.raises(EngineError, match="cannot reach the remote server"):
        _engine(url).complete(CompletionRequest(prefix=PREFIX))
    assert time.perf_counter() - t0 < 5


def test_confidence_comes_from_the_servers_logprobs(server):
    """Not the constant of a backend without log-probabilities: it varies with what is written."""
    from model.completion import NO_CONFIDENCE

    engine = _engine(server.url)
    seen = set()
    for prefix in ("def add(a, b):\n    return ", "import os\nos.path.", "zq = 7 ## "):
        out = engine.complete(CompletionRequest(prefix=prefix, mode="single", max_tokens=4))
        if out:
            assert 0.0 < out[0].confidence <= 1.0
            seen.add(round(out[0].confidence, 3))
    assert seen and NO_CONFIDENCE not in seen and len(seen) >= 2
