"""The whole path with the real default model: load with progress, inline completion, hints.

Needs `wingman model pull` (skipped otherwise). Slow on a small CPU: tens of seconds.
"""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

import lsp_harness
from lsp_harness import REAL_HOME, Editor, Session, server_config


def _model_available() -> bool:
    try:
        import model.local  # noqa: F401
    except ImportError:
        return False
    from pathlib import Path

    root = Path(REAL_HOME) / "models"
    return root.is_dir() and any((p / "config.json").is_file() for p in root.iterdir())


pytestmark = [pytest.mark.real_model, pytest.mark.slow,
              pytest.mark.skipif(not _model_available(), reason="no pulled model: run `wingman model pull`")]


@pytest_lsp.fixture(config=server_config(home=REAL_HOME))
async def real(lsp_client: LanguageClient):
    lsp_client._wingman = Session(lsp_client, Editor(lsp_client), "vscode")
    yield
    if lsp_client.capabilities is None and lsp_client._server is not None:
        lsp_client._server.kill()  # never initialized: it would wait for `exit` forever
    else:
        await lsp_client.shutdown_session()


async def test_real_model_end_to_end(real: LanguageClient, tmp_path, monkeypatch):
    monkeypatch.setattr(lsp_harness, "WAIT_S", 600)  # loading and scoring on a busy CPU
    s: Session = real._wingman
    # Telemetry off: this server uses the real $WINGMAN_HOME (for the model), not a test one.
    result = await s.start({"fakeEngine": None, "completion": {"maxTokens": 12}, "telemetry": {"enabled": False}},
                           wait_ready=False)
    assert result.capabilities.inline_completion_provider is not None
    ready = await s.editor.status("ready")
    assert ready["model"]
    kinds = [p.value["kind"] for p in s.editor.of("$/progress")]
    assert kinds[0] == "begin" and "report" in kinds and kinds[-1] == "end"

    uri = (tmp_path / "stats.py").as_uri()
    text = "def mean(values):\n    total = 0\n    for v in values:\n        total += v\n    return total / "
    s.editor.open(uri, text)
    r = await s.client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=19),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    assert r is not None and r.items and r.items[0].insert_text.strip()
    assert "\n" not in r.items[0].insert_text  # mid-statement: single line
    # Hints arrive for the opened file (whatever the model finds, within the limits).
    diags = await s.editor.diagnostics(uri)
    assert len(diags) <= 5
    assert all(d.source == "wingman" and d.data["replacement"] for d in diags)


async def test_real_model_generates_verified_tests(real: LanguageClient, tmp_path, monkeypatch):
    """"Generate tests" with the real model, through the server: the file on disk passes pytest,
    and the message gives the evidence."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    monkeypatch.setattr(lsp_harness, "WAIT_S", 600)
    s: Session = real._wingman
    root = tmp_path / "proj"
    root.mkdir()
    shutil.copy(Path(__file__).resolve().parents[2] / "examples" / "stats.py", root / "stats.py")
    path = root / "stats.py"
    text = path.read_text()
    await s.start({"fakeEngine": None, "telemetry": {"enabled": False}, "diagnostics": {"enabled": False}}, root=root)
    s.editor.open(path.as_uri(), text)
    line = text.splitlines().index("    ordered = sorted(values)")
    mark = s.editor.mark()
    result = lsp_harness.plain(await s.client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="wingman.generateTests", arguments=[path.as_uri(), {"line": line, "character": 4}])))
    assert result["applied"] and result["verified"], result
    written = (root / "tests" / "test_stats.py").read_text()
    assert "from stats import median" in written and "UNVERIFIED" not in written
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                          cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
    said = [p.message for m, p in s.editor.events[mark:] if m == "window/showMessage"][-1]
    assert "verified test" in said and "all passing" in said and "mutants killed" in said, said
