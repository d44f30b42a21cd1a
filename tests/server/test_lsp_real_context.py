"""Repository context end to end, through the server, on the real default model: a name
defined only in another open file is completed with context, and not without (so this test
can fail). Needs `wingman model pull` (skipped otherwise); about a minute on a small CPU."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

import lsp_harness
from lsp_harness import REAL_HOME, Editor, Session, server_config
from test_lsp_real_model import _model_available

pytestmark = [pytest.mark.real_model, pytest.mark.slow,
              pytest.mark.skipif(not _model_available(), reason="no pulled model: run `wingman model pull`")]

SHAPES = '''"""Geometry helpers."""


def quadrilateral_zorblax_area(points):
    """The area of a polygon given as (x, y) points (the shoelace formula)."""
    n = len(points)
    return 0.5 * abs(sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n)))
'''
APP = 'from shapes import *\n\n\ndef total_area(polygons):\n    """The sum of the areas of the polygons."""\n    return sum(quadrilateral_'


@pytest_lsp.fixture(config=server_config(home=REAL_HOME))
async def real(lsp_client: LanguageClient):
    lsp_client._wingman = Session(lsp_client, Editor(lsp_client), "vscode")
    yield
    if lsp_client.capabilities is None and lsp_client._server is not None:
        lsp_client._server.kill()
    else:
        await lsp_client.shutdown_session()


async def _complete(s: Session, uri: str, line: int, character: int) -> str:
    r = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    return r.items[0].insert_text if r is not None and r.items else ""


async def test_a_name_from_another_open_file_needs_the_context(real: LanguageClient, tmp_path, monkeypatch):
    monkeypatch.setattr(lsp_harness, "WAIT_S", 600)
    s: Session = real._wingman
    options = {"fakeEngine": None, "completion": {"maxTokens": 12, "gateThreshold": 0.0},
               "telemetry": {"enabled": False}}
    await s.start(options, wait_ready=False)
    await s.editor.status("ready")
    s.editor.open((tmp_path / "shapes.py").as_uri(), SHAPES)
    uri = (tmp_path / "app.py").as_uri()
    s.editor.open(uri, APP)
    line, character = APP.count("\n"), len(APP.rsplit("\n", 1)[-1])
    with_context = await _complete(s, uri, line, character)
    assert with_context.startswith("zorblax_area("), with_context

    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"wingman": {"completion": {"context": False}}}))
    s.editor.replace_all(uri, APP + " ")  # a new version, so no cached answer is reused
    s.editor.replace_all(uri, APP)
    without = await _complete(s, uri, line, character)
    assert not without.startswith("zorblax_area"), without
