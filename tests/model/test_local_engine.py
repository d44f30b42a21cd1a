import threading

import pytest

from model.engine import Engine
from model.types import CancelToken, CompletionRequest

SRC = "def add(a, b):\n    return a + b\n\n\ndef mean(values):\n    return "


def test_is_an_engine(tiny_engine):
    assert isinstance(tiny_engine, Engine)
    assert tiny_engine.info.backend == "local"


def test_second_keystroke_reuses_the_cache(tiny_engine):
    tiny_engine.slots.clear()
    tiny_engine.complete(CompletionRequest(prefix=SRC, suffix="\n", mode="single", max_tokens=4))
    out = tiny_engine.complete(CompletionRequest(prefix=SRC + "s", suffix="\n", mode="single", max_tokens=4))
    # random weights may produce nothing worth showing; the timing of the prefill is what counts
    state = tiny_engine.slots["complete"]
    assert len(state.ids) > 0
    req = CompletionRequest(prefix=SRC + "su", suffix="\n", mode="single", max_tokens=4)
    prompt = tiny_engine.builder.build(req.prefix, req.suffix, req.budget).ids
    common = next((i for i, (a, b) in enumerate(zip(state.ids, prompt)) if a != b), len(prompt))
    assert common >= len(prompt) - 3


def test_prefill_reports_the_tokens_it_reused(tiny_engine):
    tiny_engine.slots.clear()
    results = []
    for typed in ["", "s", "su"]:
        req = CompletionRequest(prefix=SRC + typed, suffix="\n", mode="multi", max_tokens=3)
        logits, cached = tiny_engine._prefill(tiny_engine._slot("complete"),
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
    stop_ids, tiny_engine.stop_ids = tiny_engine.stop_ids, set()
    try:
        slot = tiny_engine._slot("cancel-test")
        logits, _ = tiny_engine._prefill(slot, [5, 6, 7, 8], CancelToken())
        produced = 0
        for _tok in tiny_engine._decode(slot, logits, 50, cancel):
            produced += 1
            if produced == 3:
                cancel.cancel()
        assert produced == 3
    finally:
        tiny_engine.stop_ids = stop_ids


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
    before = list(tiny_engine.slots["complete"].ids)
    tiny_engine.score("x = 1\ny = 2\n")
    list(tiny_engine.generate([{"role": "user", "content": "hi"}], max_tokens=2))
    assert tiny_engine.slots["complete"].ids == before


def test_prompt_longer_than_context_is_kept_within_budget(tiny_engine):
    big = "x = 1\n" * 5000
    out = tiny_engine.complete(CompletionRequest(prefix=big, suffix="", budget=100000, max_tokens=2))
    assert isinstance(out, list)  # no overflow error: the budget is capped to the context


def test_prompt_lookup_speculation_gives_the_same_greedy_text(tiny_engine):
    """Drafts copied from the context are only accepted where greedy decoding agrees."""
    prompt = tiny_engine.tok("def add(a, b):\n    return a + b\n" * 6, add_special_tokens=False)["input_ids"]
    stop_ids, tiny_engine.stop_ids = tiny_engine.stop_ids, set()
    outputs = {}
    try:
        for lookahead in (0, 6):
            tiny_engine.lookahead = lookahead
            slot = tiny_engine._slot(f"spec{lookahead}")
            logits, _ = tiny_engine._prefill(slot, prompt, CancelToken())
            outputs[lookahead] = [t for t, _ in tiny_engine._decode(slot, logits, 40, CancelToken())]
    finally:
        tiny_engine.stop_ids, tiny_engine.lookahead = stop_ids, 3
    assert len(outputs[6]) == 40
    assert outputs[6] == outputs[0]


def test_lookup_finds_the_continuation(tiny_engine):
    ids = [1, 2, 3, 4, 5, 9, 9, 1, 2]
    assert tiny_engine._lookup(ids, 3, 2) == [4, 5]
    assert tiny_engine._lookup(ids, 7, 2) == []


def test_heal_candidates_include_tokens_that_begin_the_healed_text(tiny_engine):
    vocab = tiny_engine._vocab_text or tiny_engine.tok.batch_decode([[i] for i in range(len(tiny_engine.tok))])
    allowed = {vocab[int(i)] for i in tiny_engine._heal_candidates("\n    ")}
    assert "\n" in allowed  # a beginning of the healed text
    assert all(t.startswith("\n    ") or "\n    ".startswith(t) for t in allowed)
