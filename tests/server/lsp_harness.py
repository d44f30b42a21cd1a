"""A small editor simulation for end-to-end tests: it records every notification the server
sends, applies workspace edits the way an editor does (rejecting a TextDocumentEdit whose version
is stale, creating files for CreateFile), and waits on events instead of sleeping."""

from __future__ import annotations

import asyncio
import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

from server import positions

# Where `wingman model pull` put the models, read before conftest points WINGMAN_HOME elsewhere.
from model.paths import wingman_home as _wingman_home  # noqa: E402

REAL_HOME = str(_wingman_home())
WAIT_S = 180  # a guard against a hung server, not a delay: every wait returns on its event


def vscode_capabilities() -> types.ClientCapabilities:
    """VS Code 1.65's snapshot, plus inline completion, which vscode-languageclient 11 declares
    (VS Code >= 1.91)."""
    caps = copy.deepcopy(client_capabilities("visual-studio-code"))
    caps.text_document.inline_completion = types.InlineCompletionClientCapabilities(dynamic_registration=True)
    return caps


CLIENTS = {
    "neovim": lambda: client_capabilities("neovim@v0.11"),
    "vscode": vscode_capabilities,
}


class Editor:
    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.events: list[tuple[str, Any]] = []
        self.changed = asyncio.Event()
        self.docs: dict[str, tuple[str, int, str]] = {}  # uri -> (text, version, language)
        self.files: dict[str, str] = {}  # created by CreateFile
        self.applied: list[types.WorkspaceEdit] = []
        self.rejected: list[str] = []
        self.encoding = "utf-16"
        original = client.protocol._handle_notification

        def record(method: str, params: Any) -> Any:
            self.events.append((method, plain(params) if method.startswith("wingman/") else params))
            self.changed.set()
            return original(method, params)

        client.protocol._handle_notification = record

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(ls: LanguageClient, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            ok, reason = self.apply(params.edit)
            self.events.append(("workspace/applyEdit", params))
            self.changed.set()
            return types.ApplyWorkspaceEditResult(applied=ok, failure_reason=reason)

    # --- waiting ------------------------------------------------------------------------
    async def wait_for(self, method: str, pred: Callable[[Any], bool] = lambda p: True, start: int = 0) -> Any:
        async def scan() -> Any:
            i = start
            while True:
                self.changed.clear()
                for m, p in self.events[i:]:
                    if m == method and pred(p):
                        return p
                i = len(self.events)
                await self.changed.wait()

        return await asyncio.wait_for(scan(), WAIT_S)

    def mark(self) -> int:
        return len(self.events)

    def of(self, method: str) -> list[Any]:
        return [p for m, p in self.events if m == method]

    async def status(self, state: str) -> dict:
        return await self.wait_for("wingman/status", lambda p: _get(p, "state") == state)

    async def diagnostics(self, uri: str, start: int = 0, pred: Callable[[Any], bool] = lambda p: True) -> list:
        p = await self.wait_for("textDocument/publishDiagnostics", lambda p: p.uri == uri and pred(p), start)
        return list(p.diagnostics)

    # --- documents ----------------------------------------------------------------------
    def open(self, uri: str, text: str, language: str = "python", version: int = 1) -> None:
        self.docs[uri] = (text, version, language)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)))

    def replace_all(self, uri: str, text: str) -> int:
        _, version, language = self.docs[uri]
        version += 1
        self.docs[uri] = (text, version, language)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
        return version

    def type_at_end(self, uri: str, typed: str) -> int:
        """An incremental change, as editors send them."""
        text, version, language = self.docs[uri]
        starts = positions.line_starts(text)
        line, ch = positions.to_position(text, starts, len(text), self.encoding)
        version += 1
        self.docs[uri] = (text + typed, version, language)
        here = types.Position(line=line, character=ch)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=here, end=here), text=typed)]))
        return version

    def end_of(self, uri: str) -> types.Position:
        text = self.docs[uri][0]
        line, ch = positions.to_position(text, positions.line_starts(text), len(text), self.encoding)
        return types.Position(line=line, character=ch)

    # --- edits, as an editor applies them -------------------------------------------------
    def apply(self, edit: types.WorkspaceEdit) -> tuple[bool, str | None]:
        self.applied.append(edit)
        for change in edit.document_changes or []:
            if isinstance(change, types.CreateFile):
                path = Path(change.uri.removeprefix("file://"))
                if path.exists() or change.uri in self.files:
                    return self._reject(f"{change.uri} exists")
                self.files[change.uri] = ""
            elif isinstance(change, types.TextDocumentEdit):
                uri, version = change.text_document.uri, change.text_document.version
                if uri in self.docs:
                    if version is not None and version != self.docs[uri][1]:
                        return self._reject(f"stale version {version} for {uri} (now {self.docs[uri][1]})")
                    text = self.docs[uri][0]
                elif uri in self.files:
                    text = self.files[uri]
                else:
                    path = Path(change.text_document.uri.removeprefix("file://"))
                    text = path.read_text() if path.exists() else None
                    if text is None:
                        return self._reject(f"{uri} does not exist")
                new = _apply_text_edits(text, change.edits, self.encoding)
                if uri in self.docs:
                    self.replace_all(uri, new)  # an editor tells the server, as for typing
                self.files[uri] = new
                if not uri in self.docs:
                    Path(uri.removeprefix("file://")).parent.mkdir(parents=True, exist_ok=True)
                    Path(uri.removeprefix("file://")).write_text(new)
        for uri, text_edits in (edit.changes or {}).items():
            text = self.docs[uri][0] if uri in self.docs else Path(uri.removeprefix("file://")).read_text()
            new = _apply_text_edits(text, text_edits, self.encoding)
            if uri in self.docs:
                self.replace_all(uri, new)
            self.files[uri] = new
        return True, None

    def _reject(self, reason: str) -> tuple[bool, str]:
        self.rejected.append(reason)
        return False, reason


def _apply_text_edits(text: str, edits: list, encoding: str) -> str:
    starts = positions.line_starts(text)
    spans = []
    for e in edits:
        a = positions.to_offset(text, starts, e.range.start.line, e.range.start.character, encoding)
        b = positions.to_offset(text, starts, e.range.end.line, e.range.end.character, encoding)
        spans.append((a, b, e.new_text))
    for a, b, new in sorted(spans, reverse=True):
        text = text[:a] + new + text[b:]
    return text


def plain(obj: Any) -> Any:
    """pygls hands unknown JSON objects over as named tuples; tests want dicts."""
    if hasattr(obj, "_asdict"):
        return {k: plain(v) for k, v in obj._asdict().items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def _get(p: Any, key: str) -> Any:
    return p.get(key) if isinstance(p, dict) else getattr(p, key, None)


def server_config(*extra: str, home: str | None = None) -> ClientServerConfig:
    env = dict(os.environ)
    if home:
        env["WINGMAN_HOME"] = home
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "wingman", "serve", *extra],
        client_factory=make_test_lsp_client, server_env=env,
    )


async def initialize(client: LanguageClient, caps_name: str, options: dict | None, root: Path | None = None,
                     capabilities: types.ClientCapabilities | None = None) -> types.InitializeResult:
    params = types.InitializeParams(
        capabilities=capabilities or CLIENTS[caps_name](), initialization_options=options,
        root_uri=root.as_uri() if root else None,
        workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)] if root else None,
    )
    return await client.initialize_session(params)


@dataclass
class Session:
    client: LanguageClient
    editor: Editor
    caps: str  # "neovim" or "vscode"

    async def start(self, options: dict | None = None, root: Path | None = None, wait_ready: bool = True,
                    capabilities: types.ClientCapabilities | None = None):
        # No deadline by default: a slow test machine must not turn answers into nothing. No
        # confidence gate either: it has its own tests (tests/model/test_gate.py,
        # tests/server/test_context.py); here the fake's scripted text is what the editor must see.
        opts = {"fakeEngine": {}, "completion": {"debounceMs": 0, "deadlineMs": 0, "gateThreshold": 0},
                "diagnostics": {"debounceMs": 0}}
        for key, value in (options or {}).items():
            if isinstance(value, dict) and isinstance(opts.get(key), dict):
                opts[key] = {**opts[key], **value}
            else:
                opts[key] = value
        result = await initialize(self.client, self.caps, {k: v for k, v in opts.items() if v is not None}, root,
                                  capabilities)
        enc = result.capabilities.position_encoding
        self.editor.encoding = str(getattr(enc, "value", enc) or "utf-16")
        if wait_ready:
            await self.editor.status("ready")
        return result




async def request_plain(client: LanguageClient, method: str, params: Any) -> Any:
    """A request whose result we structure ourselves. lsprotocol's client-side converter reads a
    CodeAction that carries a `command` as a Command (the union is ambiguous by keys), so code
    actions are structured here, by the presence of `title` + a non-string `command`."""
    import uuid

    from pygls.protocol import JsonRPCProtocol

    msg_id = str(uuid.uuid4())
    future = JsonRPCProtocol.send_request(client.protocol, method, params, msg_id=msg_id)
    client.protocol._result_types[msg_id] = None
    return plain(await asyncio.wrap_future(future))


async def code_actions(client: LanguageClient, params: types.CodeActionParams) -> list[types.CodeAction]:
    from lsprotocol.converters import get_converter

    conv = get_converter()
    raw = await request_plain(client, types.TEXT_DOCUMENT_CODE_ACTION, params) or []
    return [conv.structure(a, types.CodeAction) for a in raw]
