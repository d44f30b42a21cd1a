"""What the user sees while waiting: `wingman/busy`, loading progress, and a deadline after which
a suggestion is not shown late, though the work it did is kept (server/busy.py, suggest.py)."""

from __future__ import annotations

from lsprotocol import types

from lsp_harness import Session

URI = "file:///tmp/wingman-e2e/slow.py"


def inline(s: Session, line: int, character: int, invoked: bool = False):
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    return s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=URI), position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=kind)))


async def test_a_slow_request_is_not_shown_late_and_the_next_one_is_fast(s: Session):
    """A prefill of 3 s against a deadline of 2.5 s: the first request answers nothing, with a
    busy notice on and then off; its prefill goes on into the cache, so the second request at
    the same place shows the suggestion."""
    await s.start({"fakeEngine": {"completion": "a + b\n", "prefillS": 3},
                   "completion": {"deadlineMs": 2500, "busyAfterMs": 200}})
    s.editor.open(URI, "def add(a, b):\n    return ")
    mark = s.editor.mark()
    assert await inline(s, 1, 11) is None
    busy = [p for m, p in s.editor.events[mark:] if m == "wingman/busy"]
    assert [b["busy"] for b in busy] == [True, False]
    assert busy[0]["uri"] == URI and busy[0]["reason"] in ("computing", "busy") and busy[0]["message"]
    assert busy[1]["elapsedMs"] >= 2500
    second = await inline(s, 1, 11)
    assert second is not None and [i.insert_text for i in second.items] == ["a + b"]


async def test_without_a_deadline_the_slow_request_is_answered(s: Session):
    await s.start({"fakeEngine": {"completion": "a + b\n", "prefillS": 1}, "completion": {"busyAfterMs": 0}})
    s.editor.open(URI, "def add(a, b):\n    return ")
    mark = s.editor.mark()
    result = await inline(s, 1, 11)
    assert [i.insert_text for i in result.items] == ["a + b"]
    assert [p["busy"] for m, p in s.editor.events[mark:] if m == "wingman/busy"] == [True, False]


async def test_a_fast_answer_sends_no_busy_notice(s: Session):
    await s.start({"fakeEngine": {"completion": "a + b\n"}, "completion": {"busyAfterMs": 5000}})
    s.editor.open(URI, "def add(a, b):\n    return ")
    mark = s.editor.mark()
    assert (await inline(s, 1, 11)) is not None
    assert not [p for m, p in s.editor.events[mark:] if m == "wingman/busy"]


async def test_loading_reports_its_step_and_percentage(s: Session, tmp_path):
    from model.tiny import make_tiny_checkpoint

    ckpt = make_tiny_checkpoint(tmp_path / "tiny")
    await s.start({"fakeEngine": None, "model": {"path": str(ckpt), "quantize": "none"}})
    loading = [p for m, p in s.editor.events if m == "wingman/status" and p["state"] == "loading" and "progress" in p]
    assert loading and all(isinstance(p["progress"]["step"], str) for p in loading)
    pcts = [p["progress"]["percentage"] for p in loading if "percentage" in p["progress"]]
    assert pcts == sorted(pcts) and pcts[-1] == 100
    ready = [p for m, p in s.editor.events if m == "wingman/status" and p["state"] == "ready"]
    assert ready and "progress" not in ready[-1]


async def test_a_missing_default_model_names_the_pull_for_this_cache(s: Session):
    await s.start({"fakeEngine": None}, wait_ready=False)  # the tests' WINGMAN_HOME holds no model
    await s.editor.status("error")
    errors = [m.message for m in s.client.messages if m.type == types.MessageType.Error]
    assert errors and "WINGMAN_HOME=" in errors[0] and "model pull" in errors[0]
