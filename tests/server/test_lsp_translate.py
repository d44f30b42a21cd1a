"""Verified translation through the server: several candidates, the verified one chosen, what
was checked in the header and the message, one cancellable progress for them all."""

from __future__ import annotations

import asyncio
import shutil

import pytest
from lsprotocol import types
from pygls.protocol import JsonRPCProtocol

from lsp_harness import Session, plain
from test_lsp_actions import position_of, project, run

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node not found on PATH")


def fence(code: str) -> str:
    return f"```javascript\n{code}\n```\n"


BROKEN = fence("function clamp(value, low, high) {\n  return max(low, min(value for value in [high]))\n}")
WRONG = fence("function clamp(value, low, high) {\n  return Math.min(value, high);\n}")
RIGHT = fence("function clamp(value, low, high) {\n  return Math.max(low, Math.min(value, high));\n}")


def clamp_range(text: str) -> dict:
    start, end = position_of(text, "def clamp"), position_of(text, "def is_even")
    return {"start": {"line": start.line, "character": 0}, "end": {"line": end.line, "character": 0}}


async def test_the_verified_candidate_is_written_and_says_so(s: Session, tmp_path):
    root, uri, text = project(tmp_path)
    await s.start({"fakeEngine": {"replies": [BROKEN, WRONG, RIGHT, WRONG]}, "actions": {"translateCandidates": 4}},
                  root=root)
    s.editor.open(uri, text)
    mark = s.editor.mark()
    result = await run(s, types.Command(title="t", command="wingman.translate",
                                        arguments=[uri, clamp_range(text), "javascript"]))
    assert result["applied"] and result["verified"] and result["candidates"] == 3  # stopped at the verified one
    written = (root / "examples" / "stats.js").read_text()
    header, body = written.split("\n", 1)
    assert header.startswith("// Wingman: verified against the Python source on ") and "[candidate 3 of 3]" in header
    assert body.startswith("function clamp(value, low, high) {\n  return Math.max(")
    messages = [m.message for m in s.editor.of("window/showMessage")]
    assert any(m.startswith("Wingman: translation to JavaScript verified") for m in messages)
    progress = [p.value for m, p in s.editor.events[mark:] if m == "$/progress"]
    assert [p["kind"] for p in progress].count("begin") == 1 and progress[-1] == {"kind": "end", "message": "verified"}
    reports = [p.get("message", "") for p in progress if p["kind"] == "report"]
    assert any(r.startswith("candidate 1/4: unverified: node --check") for r in reports)
    assert any(r.startswith("candidate 2/4: unverified: differs on clamp(") for r in reports)


async def test_no_verified_candidate_shows_the_best_marked_unverified(s: Session, tmp_path):
    root, uri, text = project(tmp_path)
    await s.start({"fakeEngine": {"replies": [BROKEN, WRONG]}, "actions": {"translateCandidates": 2}}, root=root)
    s.editor.open(uri, text)
    result = await run(s, types.Command(title="t", command="wingman.translate",
                                        arguments=[uri, clamp_range(text), "javascript"]))
    assert result["applied"] and not result["verified"]
    header, body = result["text"].split("\n", 1)
    assert header.startswith("// Wingman: unverified: differs on clamp(") and "[candidate 2 of 2]" in header
    assert "Math.min(value, high)" in body  # it runs, the broken one does not parse
    warnings = [m for m in s.editor.of("window/showMessage") if m.type == types.MessageType.Warning]
    assert any("unverified" in m.message for m in warnings)
    assert not any(m.message.startswith("Wingman: translation to JavaScript verified")
                   for m in s.editor.of("window/showMessage"))


async def test_cancelling_stops_all_candidates(s: Session, tmp_path):
    root, uri, text = project(tmp_path)
    await s.start({"fakeEngine": {"replies": [WRONG], "delayS": 0.2}, "actions": {"translateCandidates": 8}},
                  root=root)
    s.editor.open(uri, text)
    mark = s.editor.mark()
    pending = asyncio.wrap_future(JsonRPCProtocol.send_request(
        s.client.protocol, types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(command="wingman.translate", arguments=[uri, clamp_range(text), "javascript"])))
    # Wait for the second candidate to be under way, then press cancel.
    report = await s.editor.wait_for("$/progress", lambda p: p.value["kind"] == "report"
                                     and p.value.get("message", "").startswith("candidate 2/8"), mark)
    s.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=report.token))
    assert plain(await pending) is None
    end = await s.editor.wait_for("$/progress", lambda p: p.token == report.token and p.value["kind"] == "end", mark)
    assert end.value["message"] == "cancelled"
    assert not (root / "examples" / "stats.js").exists() and not s.editor.applied


async def test_code_from_comment_prefers_the_candidate_whose_examples_pass(s: Session, tmp_path):
    replies = ["```python\ndef double(x):\n    return x +\n```",  # does not parse
               "```python\ndef double(x):\n    return x + 1\n```",  # parses, the example fails
               "```python\ndef double(x):\n    return 2 * x\n```",
               "```python\ndef double(x):\n    return x * x\n```"]
    await s.start({"fakeEngine": {"replies": replies}, "actions": {"codeCandidates": 4}})
    uri = (tmp_path / "m.py").as_uri()
    text = 'def double(x):\n    """Twice x.\n\n    >>> double(3)\n    6\n    """\n\n\ny = 1\n'
    s.editor.open(uri, text)
    result = await run(s, types.Command(title="c", command="wingman.codeFromComment",
                                        arguments=[uri, {"line": 1, "character": 6}]))
    assert result["applied"] and result["candidates"] == 3  # stops at the one that passes
    assert (result["examples"], result["examplesPassed"]) == (1, 1)
    assert "return 2 * x" in s.editor.docs[uri][0]
    msg = [m.message for m in s.editor.of("window/showMessage")][-1]
    assert msg == "Wingman: code from comment: parses, 1 of 1 examples pass (3 candidates)."


async def test_code_from_comment_with_no_passing_candidate_says_so(s: Session, tmp_path):
    replies = ["```python\ndef double(x):\n    return x +\n```", "```python\ndef double(x):\n    return x + 1\n```"]
    await s.start({"fakeEngine": {"replies": replies}, "actions": {"codeCandidates": 2}})
    uri = (tmp_path / "m.py").as_uri()
    text = 'def double(x):\n    """Twice x: double(3) == 6."""\n\n\ny = 1\n'
    s.editor.open(uri, text)
    result = await run(s, types.Command(title="c", command="wingman.codeFromComment",
                                        arguments=[uri, {"line": 1, "character": 6}]))
    assert result["applied"] and result["examplesPassed"] == 0 and result["parses"]
    assert "return x + 1" in s.editor.docs[uri][0]  # the one that parses
    warning = [m for m in s.editor.of("window/showMessage") if m.type == types.MessageType.Warning][-1]
    assert "0 of 1 examples pass" in warning.message and "double(3): expected 6, got 4" in warning.message
