"""Unit tests of the server's pure parts: positions, settings, privacy, cache, hints, worker."""

from __future__ import annotations

import threading

import pytest

from model.types import TokenScore
from server import positions
from server.cache import SuggestionCache
from server.config import DEFAULT_THRESHOLD, Settings, parse_settings, unwrap_change
from server.documents import Documents
from server.hints import find_hints, pick
from server.privacy import is_private
from server.worker import COMPLETION, DIAGNOSTICS, GENERATION, Worker


# --- positions ------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding,units", [("utf-16", [0, 1, 2, 4, 5]), ("utf-8", [0, 1, 4, 8, 9]), ("utf-32", [0, 1, 2, 3, 4])])
def test_positions_round_trip_on_cjk_and_emoji(encoding, units):
    text = "ab\r\nx中😀y\rz\u2028w\n"
    starts = positions.line_starts(text)
    assert len(starts) == 4  # \r\n, \r and \n break lines; U+2028 does not (clients agree)
    line1 = starts[1]
    for cp, unit in enumerate(units):
        assert positions.to_offset(text, starts, 1, unit, encoding) == line1 + cp
        assert positions.to_position(text, starts, line1 + cp, encoding) == (1, unit)


def test_positions_clamp():
    text = "abc\n😀\n"
    starts = positions.line_starts(text)
    assert positions.to_offset(text, starts, 0, 99) == 3  # past the line's end: its end
    assert positions.to_offset(text, starts, 99, 0) == len(text)  # past the last line: the end
    assert positions.to_offset(text, starts, 1, 1) == 4  # inside a surrogate pair: before it
    assert positions.to_position(text, starts, 3) == (0, 3)


def test_documents_incremental_changes_in_utf16():
    from lsprotocol import types

    docs = Documents()
    docs.open("u", "python", 1, "a😀b\nc\n")
    rng = types.Range(start=types.Position(line=0, character=3), end=types.Position(line=1, character=0))
    moved = docs.change("u", 2, [types.TextDocumentContentChangePartial(range=rng, text="B\n")])
    assert docs.get("u").text == "a😀B\nc\n" and docs.get("u").version == 2
    assert (moved[0].start, moved[0].end, moved[0].length) == (2, 4, 2)


# --- settings -------------------------------------------------------------------------------
def test_settings_defaults_and_problems():
    s, problems = parse_settings(None)
    assert s == Settings() and problems == []
    assert s.diagnostics.threshold == DEFAULT_THRESHOLD
    s, problems = parse_settings({"completion": {"maxTokens": 0, "debounceMs": 80}, "nope": 1, "model": 3})
    assert s.completion.max_tokens == 64 and s.completion.debounce_ms == 80
    assert any("`completion.maxTokens`" in p for p in problems)
    assert any("`nope`" in p for p in problems) and any("`model`" in p for p in problems)


def test_settings_change_merges_over_current():
    base, _ = parse_settings({"completion": {"maxTokens": 20}})
    s, _ = parse_settings(unwrap_change({"wingman": {"completion": {"mode": "single"}}}), base)
    assert s.completion.max_tokens == 20 and s.completion.mode == "single"


# --- privacy --------------------------------------------------------------------------------
@pytest.mark.parametrize("path,private", [
    ("/p/.env", True), ("/p/.env.local", True), ("/p/a/server.pem", True), ("/home/u/.ssh/id_rsa.pub", True),
    ("/p/credentials.json", True), ("/p/secrets.yaml", True), ("/p/src/main.py", False), ("/p/environment.py", False),
])
def test_privacy_builtin(path, private):
    assert is_private(path) is private


def test_privacy_configured_patterns():
    assert is_private("/w/private/notes.py", ["**/private/**"])
    assert is_private("/w/src/generated_pb2.py", ["*_pb2.py"])
    assert not is_private("/w/src/main.py", ["**/private/**", "*_pb2.py"])


# --- cache ----------------------------------------------------------------------------------
def test_type_ahead_cache():
    c = SuggestionCache(size=2)
    c.put("u", "x = ", "", "hello()")
    assert c.lookup("u", "x = hel", "") == "lo()"
    assert c.lookup("u", "x = help", "") is None  # diverged
    assert c.lookup("u", "x = hello()", "") is None  # all typed: nothing left to show
    assert c.lookup("u", "x = hel", ")") is None  # different text after the cursor
    c.put("u", "a", "", "1")
    c.put("u", "bb", "", "2")
    assert c.lookup("u", "x = h", "") is None  # evicted (LRU of 2)


# --- hints ----------------------------------------------------------------------------------
def _score(text: str, token: str, best: str, logprob: float, nth: int = 0) -> TokenScore:
    start = -1
    for _ in range(nth + 1):
        start = text.index(token, start + 1)
    return TokenScore(start, start + len(token), token, logprob, best, -0.1)


def test_hints_filter_comments_new_names_and_weak_surprises():
    text = "def f(a, b):\n    # a < b here\n    total = a < b\n    return totl\n"
    scores = [
        _score(text, " <", " <=", -12.0, nth=1),  # the code one: hinted
        _score(text, " <", " <=", -12.0, nth=0),  # in the comment: not hinted
        _score(text, " total", " result", -11.0),  # a new name: not hinted
        _score(text, "totl", "total", -11.0),  # a misspelt use... of a name never seen: not hinted
        _score(text, " a", " b", -2.0, nth=1),  # not surprising enough
    ]
    hints = find_hints(text, scores, threshold=-9.0)
    assert [(text[h.start:h.end], h.replacement) for h in hints] == [("<", "<=")]


def test_pick_limits_per_screen_and_file():
    from server.hints import Hint

    text = "x\n" * 200
    hints = [Hint(2 * line, 2 * line + 1, "x", "y", -10 - line % 7) for line in range(0, 200, 5)]
    chosen = pick(hints, text, max_per_file=5)
    lines = [text.count("\n", 0, h.start) for h in chosen]
    assert len(chosen) == 5
    for top in range(200):  # any 40-line screen
        assert sum(1 for ln in lines if top <= ln < top + 40) <= 2


# --- worker ---------------------------------------------------------------------------------
def test_worker_priorities_supersede_and_preemption():
    w = Worker()
    order: list[str] = []
    gate, started = threading.Event(), threading.Event()

    def blocker(cancel):
        started.set()
        gate.wait()
        return "blocker"

    def record(name):
        def fn(cancel):
            order.append(name)
            return name
        return fn

    first = w.submit(GENERATION, blocker)
    started.wait()
    diag = w.submit(DIAGNOSTICS, record("diagnostics"))
    gen = w.submit(GENERATION, record("generation"))
    old = w.submit(COMPLETION, record("old completion"), key="doc")
    new = w.submit(COMPLETION, record("new completion"), key="doc")  # supersedes `old`
    gate.set()
    assert first.future.result() == "blocker"
    assert new.future.result() == "new completion"
    assert diag.future.result() == "diagnostics" and gen.future.result() == "generation"
    assert old.future.cancelled()
    assert order == ["new completion", "generation", "diagnostics"]

    # A running diagnostics job is pre-empted by a completion and runs again afterwards.
    runs: list[str] = []
    in_diag, release = threading.Event(), threading.Event()

    def scan(cancel):
        runs.append("scan")
        if len(runs) == 1:
            in_diag.set()
            release.wait()
            return None if cancel.cancelled else "finished early"
        return "scanned"

    d = w.submit(DIAGNOSTICS, scan)
    in_diag.wait()
    c = w.submit(COMPLETION, lambda cancel: runs.append("completion") or "done")
    assert d.token.cancelled  # asked to stop
    release.set()
    assert c.future.result() == "done"
    assert d.future.result() == "scanned"
    assert runs == ["scan", "completion", "scan"]
    w.stop()


def test_worker_errors_reach_the_awaiter():
    w = Worker()
    job = w.submit(COMPLETION, lambda cancel: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        job.future.result()
    assert w.submit(COMPLETION, lambda cancel: 2).future.result() == 2
    w.stop()


def test_hints_skip_strings_and_offer_whole_names():
    text = 'def f(count, total):\n    msg = "a < b"\n    """x < y"""\n    return multimode + total\n'
    at = text.index("multimode")
    scores = [
        _score(text, "<", "<=", -12.0, nth=0),  # inside a string: not hinted
        _score(text, "<", "<=", -12.0, nth=1),  # inside a docstring: not hinted
        TokenScore(at - 1, at + 6, " multim", -12.0, " count", -0.3),  # a piece of a wrong name
        TokenScore(at + 6, at + 9, "ode", -11.0, "ode", -0.1),
    ]
    # `multimode` must have appeared before to count as a wrong name, not a new one.
    text2 = "multimode = 1\n" + text
    shifted = [TokenScore(s.start + 14, s.end + 14, s.text, s.logprob, s.best_text, s.best_logprob) for s in scores]
    assert find_hints(text, scores, -9.0) == []
    (h,) = find_hints(text2, shifted, -9.0)
    assert (text2[h.start:h.end], h.replacement) == ("multimode", "count")


def test_hints_need_an_alternative_of_the_same_kind():
    text = "x = 1\ny = x + 2\n"
    scores = [_score(text, " +", " max", -12.0), _score(text, " 2", " 3", -12.0)]
    assert [(h.text, h.replacement) for h in find_hints(text, scores, -9.0)] == [("2", "3")]


def test_worker_runs_a_completion_between_a_generations_steps():
    """A generation that calls run_urgent between tokens lets a completion submitted meanwhile
    run at once, on the worker thread, and then goes on where it was."""
    w = Worker()
    steps: list[str] = []
    completion_submitted = threading.Event()
    generation_may_end = threading.Event()

    def generation(cancel):
        for i in range(200):
            steps.append(f"g{i}")
            w.run_urgent(GENERATION)
            if i == 5:
                completion_submitted.wait(5)
            if i > 5 and "c" in steps:
                generation_may_end.wait(5)
                return "generated"
        return "never interleaved"

    gen = w.submit(GENERATION, generation)
    while "g5" not in steps:
        threading.Event().wait(0.01)
    comp = w.submit(COMPLETION, lambda cancel: steps.append("c") or "completed")
    completion_submitted.set()
    assert comp.future.result(timeout=5) == "completed"
    assert not gen.future.done()  # answered while the generation was still running
    generation_may_end.set()
    assert gen.future.result(timeout=5) == "generated"
    assert steps.index("c") in (6, 7)  # at the first step after it was queued
    # Called from any other thread it does nothing.
    assert w.run_urgent(GENERATION) == 0
    w.stop()
