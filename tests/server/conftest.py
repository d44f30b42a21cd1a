from __future__ import annotations

import tempfile

import pytest
import pytest_lsp
from pytest_lsp import LanguageClient

from lsp_harness import Editor, Session, server_config

# Telemetry and anything else the server writes goes here, not into the user's cache.
HOME = tempfile.mkdtemp(prefix="wingman-test-home-")


@pytest.fixture(autouse=True)
def _test_home(monkeypatch):
    """Only for these tests: set at import time, it would hide the pulled model from the rest."""
    monkeypatch.setenv("WINGMAN_HOME", HOME)


@pytest_lsp.fixture(config=server_config(home=HOME), params=["neovim", "vscode"])
async def session(lsp_client: LanguageClient, request):
    editor = Editor(lsp_client)
    lsp_client._wingman = Session(lsp_client, editor, request.param)  # handed to `s` below
    yield
    if lsp_client.capabilities is None and lsp_client._server is not None:
        lsp_client._server.kill()  # never initialized: it would wait for `exit` forever
    else:
        await lsp_client.shutdown_session()


@pytest.fixture
def s(session: LanguageClient) -> Session:
    return session._wingman
