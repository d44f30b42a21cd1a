"""Alternatives (model/completion.py): distinct candidates from one cached prompt, ranked."""

from model.types import CancelToken, CompletionRequest


def test_alternatives_are_distinct_ranked_and_share_the_prompt(tiny_engine):
    req = CompletionRequest(prefix="def add(a, b):\n    return ", suffix="\n", max_tokens=6, budget=200, mode="single")
    one = tiny_engine.complete(req, CancelToken())
    many = tiny_engine.complete(CompletionRequest(**{**req.__dict__, "n": 3}), CancelToken())
    texts = [c.text for c in many]
    assert len(set(texts)) == len(texts) and 1 <= len(texts) <= 3
    assert [c.confidence for c in many] == sorted((c.confidence for c in many), reverse=True)
    if one:
        assert one[0].text in texts  # the greedy answer is among them
    # Each alternative recomputed only the prompt's last token: the rest came from the cache.
    assert all(c.timings.cached_tokens >= c.timings.prompt_tokens - 1 for c in many[1:] if c.timings.prompt_tokens)
