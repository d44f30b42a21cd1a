"""The translate code action with the real default model, through the server: whatever the model
writes, the file says what was checked, and a translation labelled verified passes tests it
never saw. Needs `wingman model pull` (skipped otherwise); tens of seconds on a small CPU."""

from __future__ import annotations

import shutil

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

import lsp_harness
from lsp_harness import REAL_HOME, Editor, Session, server_config
from model import sandbox
from test_lsp_actions import code_actions, position_of, project, run
from test_lsp_real_model import _model_available

pytestmark = [pytest.mark.real_model, pytest.mark.slow,
              pytest.mark.skipif(not _model_available(), reason="no pulled model: run `wingman model pull`"),
              pytest.mark.skipif(shutil.which("node") is None, reason="node not found on PATH")]

# Held-out checks of is_even, never shown to the checker (its inputs come from the generator). The
# checker accepts the name as is or camelCased (differential.js_names), so the checks take either.
HELDOUT = "const assert = require('assert');\n" \
          "const f = typeof is_even === 'function' ? is_even : isEven;\nassert.strictEqual(f(0), true);\n" \
          "assert.strictEqual(f(7), false);\nassert.strictEqual(f(-4), true);\nconsole.log('HELDOUT OK');\n"


@pytest_lsp.fixture(config=server_config(home=REAL_HOME))
async def real(lsp_client: LanguageClient):
    lsp_client._wingman = Session(lsp_client, Editor(lsp_client), "vscode")
    yield
    if lsp_client.capabilities is None and lsp_client._server is not None:
        lsp_client._server.kill()
    else:
        await lsp_client.shutdown_session()


async def test_translate_code_action_with_the_real_model(real: LanguageClient, tmp_path, monkeypatch):
    monkeypatch.setattr(lsp_harness, "WAIT_S", 600)
    s: Session = real._wingman
    root, uri, text = project(tmp_path)
    await s.start({"fakeEngine": None, "telemetry": {"enabled": False}, "diagnostics": {"enabled": False},
                   "actions": {"translateCandidates": 3}}, root=root)
    s.editor.open(uri, text)
    start, end = position_of(text, "def is_even"), position_of(text, "def factorial")
    actions = await code_actions(s, uri, start, end)
    js = next(a for a in actions if a.title == "Translate selection to JavaScript")
    result = await run(s, js.command)
    assert result is not None and result["applied"]
    written = (root / "examples" / "stats.js").read_text()
    header, body = written.split("\n", 1)
    assert header.startswith("// Wingman: verified against the Python source on ") is result["verified"]
    assert header.startswith("// Wingman: unverified: ") is not result["verified"]
    assert 1 <= result["candidates"] <= 3
    if result["verified"]:
        # Labelled verified: it must pass the held-out checks too.
        r = sandbox.run([shutil.which("node"), "main.js"], {"main.js": body + "\n" + HELDOUT})
        assert "HELDOUT OK" in r.stdout, r.stderr
    messages = [m for m in s.editor.of("window/showMessage") if "translation to JavaScript" in m.message]
    assert messages and (messages[-1].type == types.MessageType.Info) is result["verified"]
