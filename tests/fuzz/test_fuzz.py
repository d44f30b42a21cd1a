"""The fuzz harness inside `make test`: properties of the framer on raw bytes (hypothesis, a
fixed seed), a bounded run of the session fuzzer (lsp_fuzz.py, fixed seed, about a minute), and
every saved regression case replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lsp_fuzz
from server.framing import MAX_BODY, Broken, Framer, Message

PROPERTIES = settings(derandomize=True, max_examples=400, deadline=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
messages = st.builds(lambda i, v: {"jsonrpc": "2.0", "id": i, "method": "m", "params": {"v": v}},
                     st.integers(0, 10**6), json_values)


def frame(msg: dict, style: int = 0) -> bytes:
    body = json.dumps(msg, ensure_ascii=style % 2 == 0).encode()
    header = [b"Content-Length: %d\r\n\r\n", b"content-length: %d\n\n", b"CONTENT-LENGTH:%d\r\n\r\n",
              b"Content-Length: %d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"][style % 4]
    return header % len(body) + body


def read_all(data: bytes, cuts: list[int]) -> list:
    framer, events, last = Framer(), [], 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        framer.feed(data[last:cut])
        last = cut
        while (event := framer.next()) is not None:
            events.append(event)
        assert framer.buffered <= max(len(data), 1)
    framer.eof()
    while (event := framer.next()) is not None:
        events.append(event)
    return events


def ids(events: list) -> list:
    return [e.value["id"] for e in events if isinstance(e, Message) and isinstance(e.value, dict) and "id" in e.value]


@PROPERTIES
@given(st.lists(st.tuples(messages, st.integers(0, 7)), min_size=1, max_size=5), st.lists(st.integers(0, 10**6), max_size=6))
def test_valid_frames_in_any_pieces_are_read_exactly(frames, cuts):
    data = b"".join(frame(m, style) for m, style in frames)
    events = read_all(data, cuts)
    assert [e.value for e in events] == [m for m, _ in frames]


@PROPERTIES
@given(st.binary(max_size=300), st.lists(messages, min_size=3, max_size=3), st.lists(st.integers(0, 10**6), max_size=4))
def test_after_any_garbage_the_reader_resynchronises(garbage, frames, cuts):
    """Whatever came before, at most the first frame after it is lost: never the rest."""
    data = garbage + b"".join(frame(m) for m in frames)
    got = ids(read_all(data, cuts))
    want = [m["id"] for m in frames]
    assert got[-2:] == want[1:] or got[-3:] == want, (got, want)


@PROPERTIES
@given(st.binary(max_size=2000), st.lists(st.integers(0, 10**6), max_size=4))
def test_raw_bytes_never_raise_and_errors_are_json_rpc_codes(data, cuts):
    for event in read_all(data, cuts):
        assert isinstance(event, (Message, Broken))
        if isinstance(event, Broken):
            assert event.code in (-32700, -32600)


@PROPERTIES
@given(messages, st.integers(-40, 300))
def test_a_wrong_content_length_costs_at_most_that_frame(msg, delta):
    body = json.dumps(msg).encode()
    nxt = {"jsonrpc": "2.0", "id": "next", "method": "m"}
    data = b"Content-Length: %d\r\n\r\n" % max(0, len(body) + delta) + body + frame(nxt)
    assert ids(read_all(data, []))[-1] == "next"


def test_an_oversized_frame_is_refused_without_reading_it():
    framer = Framer()
    framer.feed(b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1) + b"x" * 100_000 + frame({"jsonrpc": "2.0", "id": 1, "method": "m"}))
    first = framer.next()
    assert isinstance(first, Broken) and first.code == -32600
    assert framer.next().value["id"] == 1
    assert framer.skipped >= 100_000


def test_short_fuzz_run_is_clean():
    """About a minute on two shared cores (seed 18); the long run is `python tests/fuzz/lsp_fuzz.py --long`."""
    report = lsp_fuzz.fuzz(cases=120, seed=18, save=False)
    assert report.cases == 120
    assert (report.crashes, report.hangs, report.unanswered) == (0, 0, 0), report.examples


@pytest.mark.parametrize("path", sorted((Path(__file__).parent / "regressions").glob("*.json")), ids=lambda p: p.name)
def test_saved_regressions(path):
    outcome = lsp_fuzz.replay(path)
    assert not outcome.failed, (outcome.crash, outcome.hang, outcome.unanswered)
