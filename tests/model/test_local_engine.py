

from model.engine import Engine
from model.types import CancelToken, CompletionRequest

SRC = "def add(a, b):\n    return a + b\n\n\ndef mean(values):\n    return "


def test_is_an_engine(tiny_engine):
    assert isinstance(tiny_engine, Engine)
    assert tiny_engine.info.backend == "local"


def test_second_keystroke_reuses_the_cache(tiny_engine):
    tiny_engine.decoder.slots.clear()
    tiny_engine.complete(CompletionRequest(prefix=SRC, suffix="\n", mode="single", max_tokens=4))
    tiny_engine.complete(CompletionRequest(prefix=SRC + "s", suffix="\n", mode="single", max_tokens=4))
    # random weights may produce nothing worth showing; the timing of the prefill is what counts
    state = tiny_engine.decoder.slots["complete"]
    assert len(state.ids) > 0
    req = CompletionRequest(prefix=SRC + "su", suffix="\n", mode="single", max_tokens=4)
    prompt = tiny_engine.builder.build(req.prefix, req.suffix, req.budget).ids
    common = next((i for i, (a, b) in enumerate(zip(state.ids, prompt)) if a != b), len(prompt))
    assert common >= len(prompt) - 3


def test_prefill_reports_the_tokens_it_reused(tiny_engine):
    tiny_engine.decoder.slots.clear()
    results = []
    for typed in ["", "s", "su"]:
        req = CompletionRequest(prefix=SRC + typed, suffix="\n", mode="multi", max_tokens=3)
        logits, cached = tiny_engine.decoder.prefill(tiny_engine.decoder.slot("complete"),
                                                     tiny_engine.builder.build(req.prefix, req.suffix, 512).ids[:-1],
                                                     CancelToken())
        results.append(cached)
    assert results[0] == 0 and results[1] > 0 and results[2] > 0


def test_cancel_before_start_returns_nothing(tiny_engine):
    cancel = CancelToken()
    cancel.cancel()
    assert tiny_engine.complete(CompletionRequest(prefix=SRC, max_tokens=8), cancel) == []


def test_cancel_between_tokens_stops_decoding(tiny_engine):
    cancel = CancelToken()
    decoder = tiny_engine.decoder
    stop_ids, decoder.stop_ids = decoder.stop_ids, set()
    try:
        slot = decoder.slot("cancel-test")
        logits, _ = decoder.prefill(slot, [5, 6, 7, 8], CancelToken())
        produced = 0
        for _tok in decoder.tokens(slot, logits, 50, cancel):
            produced += 1
            if produced == 3:
                cancel.cancel()
        assert produced == 3
    finally:
        decoder.stop_ids = stop_ids


def test_generate_streams_text(tiny_engine):
    pieces = list(tiny_engine.generate([{"role": "user", "content": "Write a function."}], max_tokens=12))
    assert all(isinstance(p, str) for p in pieces)
    assert len("".join(pieces)) > 0


def test_score_offsets_point_into_the_text(tiny_engine):
    text = "def add(a, b):\n    return a + b\n"
    scores = tiny_engine.score(text)
    assert len(scores) > 5
    for s in scores:
        assert text[s.start : s.end] == s.text
        assert s.logprob <= 0.0 and s.best_logprob >= s.logprob - 1e-4


def test_score_does_not_touch_the_completion_cache(tiny_engine):
    tiny_engine.complete(CompletionRequest(prefix=SRC, mode="single", max_tokens=2))
    before = list(tiny_engine.decoder.slots["complete"].ids)
    tiny_engine.score("x = 1\ny = 2\n")
    list(tiny_engine.generate([{"role": "user", "content": "hi"}], max_tokens=2))
    assert tiny_engine.decoder.slots["complete"].ids == before


def test_prompt_longer_than_context_is_kept_within_budget(tiny_engine):
    big = "".join(f"x_{i} = {i}\n" for i in range(5000)) + "y = "
    request = CompletionRequest(prefix=big, suffix="", budget=100000, max_tokens=2)
    tiny_engine.complete(request)  # no overflow error: the budget is capped to the context
    held = tiny_engine.decoder.slots["complete"].ids  # the prompt and what was generated after it
    room = tiny_engine.max_len - request.max_tokens - 8
    assert room // 2 < len(held) <= room + request.max_tokens  # a full window, not the whole file
    text = tiny_engine.tok.decode(held)
    assert "x_4999 = 4999\ny =" in text and "x_0 = 0\n" not in text  # the lines nearest the cursor


def test_prompt_lookup_speculation_gives_the_same_greedy_text(tiny_engine):
    """Drafts copied from the context are only accepted where greedy decoding agrees."""
    prompt = tiny_engine.tok("def add(a, b):\n    return a + b\n" * 6, add_special_tokens=False)["input_ids"]
    decoder = tiny_engine.decoder
    stop_ids, decoder.stop_ids = decoder.stop_ids, set()
    outputs = {}
    try:
        for lookahead in (0, 6):
            decoder.lookahead = lookahead
            slot = decoder.slot(f"spec{lookahead}")
            logits, _ = decoder.prefill(slot, prompt, CancelToken())
            outputs[lookahead] = [t for t, _ in decoder.tokens(slot, logits, 40, CancelToken())]
    finally:
        decoder.stop_ids, decoder.lookahead = stop_ids, 3
    assert len(outputs[6]) == 40
    assert outputs[6] == outputs[0]


def test_lookup_finds_the_continuation(tiny_engine):
    ids = [1, 2, 3, 4, 5, 9, 9, 1, 2]
    assert tiny_engine.decoder.draft(ids + [3], 2) == [4, 5]
    assert tiny_engine.decoder.draft(ids + [7], 2) == []


def test_heal_candidates_include_tokens_that_begin_the_healed_text(tiny_engine):
    vocab = tiny_engine.healer.vocab_text
    allowed = {vocab[int(i)] for i in tiny_engine.healer.candidates("\n    ")}
    assert "\n" in allowed  # a beginning of the healed text
    assert all(t.startswith("\n    ") or "\n    ".startswith(t) for t in allowed)


def test_a_window_that_cannot_be_ready_in_time_is_narrowed_then_warmed(tiny_engine):
    """With the measured prefill speed too low for the uncached window, the engine answers from a
    narrower window (its own cache slot); `warm` then prefills the full window, and the next
    request at that place gets the whole context from the cache."""
    from model.adaptive import MIN_BUDGET

    text = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(200))
    request = CompletionRequest(prefix=text + "def g(x):\n    return ", suffix="\n", mode="single", max_tokens=2,
                                time_budget_ms=1000)
    tiny_engine.decoder.slots.clear()
    tiny_engine.clock.tokens_per_s = 50.0  # 1 s at 50 tok/s: far less than the ~1,000-token window
    tiny_engine.complete(request)
    narrow = tiny_engine.decoder.slots["narrow"].ids
    assert "complete" not in tiny_engine.decoder.slots
    assert MIN_BUDGET // 2 < len(narrow) <= MIN_BUDGET + request.max_tokens
    assert tiny_engine.warm(request) is True
    full = tiny_engine.decoder.slots["complete"].ids
    assert len(full) > 3 * len(narrow)
    tiny_engine.clock.tokens_per_s = 50.0
    out_request = CompletionRequest(prefix=request.prefix, suffix="\n", mode="single", max_tokens=2, time_budget_ms=1000)
    ids, _ = tiny_engine._fim_ids(out_request, 1024)
    assert tiny_engine.decoder.cached("complete", ids) >= len(ids) - 1  # nothing left to prefill: no narrowing
    tiny_engine.complete(out_request)
    assert tiny_engine.decoder.slots["complete"].ids[: len(ids)] == ids


def test_warm_is_cancellable_and_resumes(tiny_engine):
    from model.types import CancelToken

    text = "".join(f"value_{i} = {i}\n" for i in range(400))
    request = CompletionRequest(prefix=text, suffix="", mode="single", max_tokens=2)
    tiny_engine.decoder.slots.clear()
    cancel = CancelToken()
    cancel.cancel()
    assert tiny_engine.warm(request, cancel) is None  # pre-empted before its first chunk
    assert tiny_engine.warm(request) is True
    assert tiny_engine.warm(request) is True and len(tiny_engine.decoder.slots["complete"].ids) > 100
