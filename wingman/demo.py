"""`wingman demo`: a real LSP session over stdio against a copy of examples/, printed as an
editor would show it, with latencies; then how to connect VS Code and Neovim.

It starts `wingman serve` as a child process and talks to it with pygls' client, exactly as an
editor would: no shortcut into the server's internals.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from server import positions

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAKE = {  # for `--engine fake`: a quick look without a model
    "completion": "math.prod(values) ** (1 / len(values))\n",
    "reply": "```javascript\nfunction mean(values) {\n  if (values.length === 0) throw new Error('mean of an empty list');\n"
             "  return values.reduce((a, b) => a + b, 0) / values.length;\n}\n```\n"
             "```python\ndef test_median_odd():\n    assert median([3, 1, 2]) == 2\n\n\ndef test_median_even():\n"
             "    assert median([4, 1, 3, 2]) == 2.5\n```",
    "surprising": {"<": "<="},
}
CONNECT = """
How to connect an editor (see server/README.md):
  VS Code : install editors/vscode (the Wingman extension); it starts `wingman serve` itself.
  Neovim  : 0.11+, with the plugin in editors/nvim, or by hand:
              vim.lsp.start({ name = "wingman", cmd = { "wingman", "serve" },
                              init_options = { completion = { fallback = "off" } } })
  Any LSP client: run `wingman serve` (stdio) or `wingman serve --tcp 127.0.0.1:7777`.
"""


def say(text: str = "") -> None:
    print(text, flush=True)


def ghost(text: str) -> str:
    return "\x1b[2m" + text.replace("\n", "⏎\n") + "\x1b[0m" if sys.stdout.isatty() else text


class DemoClient:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = LanguageClient("wingman-demo", "0.1")
        self.docs: dict[str, tuple[str, int]] = {}
        self.ready = asyncio.Event()
        self.failed = ""
        self.diagnostics: dict[str, list] = {}
        self.diag_event = asyncio.Event()
        c = self.client

        @c.feature("wingman/status")
        def status(params):
            state = getattr(params, "state", None) or params.get("state")
            message = getattr(params, "message", None) or params.get("message")
            say(f"  [status bar] wingman: {state} — {message}")
            if state == "ready":
                self.ready.set()
            elif state == "error":
                self.failed = message
                self.ready.set()

        @c.feature("wingman/busy")
        def busy(params):
            if getattr(params, "busy", None) or (isinstance(params, dict) and params.get("busy")):
                reason = getattr(params, "reason", None) or (params.get("reason") if isinstance(params, dict) else "")
                say(f"  [status bar] wingman: thinking ({reason})")

        @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(params):
            return None

        @c.feature(types.PROGRESS)
        def progress(params):
            v = params.value
            kind = getattr(v, "kind", None) or v.get("kind")
            text = (getattr(v, "title", None) or v.get("title") or "") if kind == "begin" else (
                getattr(v, "message", None) or v.get("message") or "")
            if text and not text.endswith(" characters"):  # streaming counts: too chatty to print
                say(f"  [progress] {text}")

        @c.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params):
            say(f"  [message] {params.message}")

        @c.feature(types.WINDOW_SHOW_DOCUMENT)
        def show_document(params):
            return types.ShowDocumentResult(success=True)

        @c.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(params):
            self.diagnostics[params.uri] = list(params.diagnostics)
            self.diag_event.set()

        @c.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params):
            for change in params.edit.document_changes or []:
                if isinstance(change, types.TextDocumentEdit):
                    path = Path(change.text_document.uri.removeprefix("file://"))
                    text = path.read_text() if path.exists() else ""
                    starts = positions.line_starts(text)
                    for e in sorted(change.edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
                        a = positions.to_offset(text, starts, e.range.start.line, e.range.start.character)
                        b = positions.to_offset(text, starts, e.range.end.line, e.range.end.character)
                        text = text[:a] + e.new_text + text[b:]
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(text)
                    say(f"  [edit] {path.relative_to(self.root)}:")
                    for line in text.rstrip().split("\n")[-24:]:
                        say(f"      {line}")
            return types.ApplyWorkspaceEditResult(applied=True)

    def open(self, path: Path) -> str:
        uri = path.as_uri()
        text = path.read_text()
        self.docs[uri] = (text, 1)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
        return uri

    def type(self, uri: str, typed: str) -> types.Position:
        text, version = self.docs[uri]
        starts = positions.line_starts(text)
        line, ch = positions.to_position(text, starts, len(text))
        here = types.Position(line=line, character=ch)
        self.docs[uri] = (text + typed, version + 1)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version + 1),
            [types.TextDocumentContentChangePartial(range=types.Range(start=here, end=here), text=typed)]))
        text = text + typed
        line, ch = positions.to_position(text, positions.line_starts(text), len(text))
        return types.Position(line=line, character=ch)

    def inline(self, uri: str, pos: types.Position, invoked: bool = False):
        kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
        return self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=pos,
            context=types.InlineCompletionContext(trigger_kind=kind)))


async def session(engine: str, model: str | None) -> int:
    root = Path(tempfile.mkdtemp(prefix="wingman-demo-"))
    shutil.copytree(EXAMPLES, root / "examples")
    demo = DemoClient(root)
    cmd = [sys.executable, "-m", "wingman", "serve"] + (["--model", model] if model else [])
    options: dict = {"completion": {"maxTokens": 32, "debounceMs": 100}, "diagnostics": {"debounceMs": 200}}
    if engine == "fake":
        options["fakeEngine"] = FAKE
    say(f"$ {' '.join(cmd)}   (working on a copy of examples/ in {root})")
    await demo.client.start_io(*cmd)
    c = demo.client
    caps = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True,
                                              show_document=types.ShowDocumentClientCapabilities(support=True)),
        text_document=types.TextDocumentClientCapabilities(
            inline_completion=types.InlineCompletionClientCapabilities(),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities()),
        workspace=types.WorkspaceClientCapabilities(apply_edit=True, workspace_edit=types.WorkspaceEditClientCapabilities(
            document_changes=True, resource_operations=[types.ResourceOperationKind.Create])))
    t0 = time.perf_counter()
    await c.initialize_async(types.InitializeParams(capabilities=caps, root_uri=root.as_uri(), initialization_options=options))
    say(f"server started and answered initialize in {1000 * (time.perf_counter() - t0):.0f} ms; the model loads in the background")
    c.initialized(types.InitializedParams())
    await demo.ready.wait()
    say(f"model ready after {time.perf_counter() - t0:.1f} s")
    if demo.failed:
        say("The model could not be loaded; see the message above.")
        return 1

    say("\n== 1. Inline completion while typing (examples/stats.py) ==")
    uri = demo.open(root / "examples" / "stats.py")
    pending = []
    for piece in ("\n\ndef geometric_mean(values: list[float]) -> float:\n", '    """Geometric mean."""\n', "    import math\n", "    return "):
        pos = demo.type(uri, piece)
        pending.append((piece, time.perf_counter(), asyncio.ensure_future(demo.inline(uri, pos))))
    for i, (piece, started, fut) in enumerate(pending):
        result = await fut
        ms = 1000 * (time.perf_counter() - started)
        shown = result.items[0].insert_text if result and result.items else None
        # Earlier requests are superseded by the next keystroke; the last one is answered with
        # nothing when the confidence gate (model/gate.py) holds back every candidate.
        why = "superseded by the next keystroke" if i < len(pending) - 1 else "no candidate passed the confidence gate"
        say(f"  typed {piece.strip()[:40]!r:44} -> " + (f"ghost text {ghost(shown)!r} ({ms:.0f} ms)" if shown else f"(nothing shown: {why}; {ms:.0f} ms)"))
    # What an explicit request (the editor's "trigger suggestion" key) returns there: alternatives.
    t = time.perf_counter()
    result = await demo.inline(uri, pos, invoked=True)
    items = [item.insert_text for item in (result.items if result else [])]
    say(f"  asked explicitly (alternatives, {1000 * (time.perf_counter() - t):.0f} ms) -> "
        + (", ".join(repr(ghost(x)) for x in items) if items else "nothing: no candidate passed the gate"))

    say("\n== 2. Translate a selection: `mean` to JavaScript ==")
    text = demo.docs[uri][0]
    a, b = text.index("def mean"), text.index("def variance")
    start = positions.to_position(text, positions.line_starts(text), a)
    end = positions.to_position(text, positions.line_starts(text), b)
    rng = {"start": {"line": start[0], "character": start[1]}, "end": {"line": end[0], "character": end[1]}}
    t = time.perf_counter()
    out = await c.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.translate", arguments=[uri, rng, "javascript"]))
    say(f"  -> {getattr(out, 'uri', None) or (out or {}).get('uri', '')} in {time.perf_counter() - t:.1f} s")

    say("\n== 3. Generate tests for `median` ==")
    line = text[: text.index("ordered = sorted")].count("\n")
    t = time.perf_counter()
    await c.workspace_execute_command_async(types.ExecuteCommandParams(
        command="wingman.generateTests", arguments=[uri, {"line": line, "character": 4}]))
    say(f"  done in {time.perf_counter() - t:.1f} s")

    say("\n== 4. Diagnostics on a file with a planted bug (examples/planted_bug.py: `<` for `<=`) ==")
    demo.diag_event.clear()
    bug_uri = demo.open(root / "examples" / "planted_bug.py")
    t = time.perf_counter()
    while bug_uri not in demo.diagnostics:
        demo.diag_event.clear()
        await demo.diag_event.wait()
    say(f"  published after {time.perf_counter() - t:.1f} s:")
    for d in demo.diagnostics[bug_uri] or []:
        say(f"  planted_bug.py:{d.range.start.line + 1}:{d.range.start.character + 1}: {d.message}")
    if not demo.diagnostics[bug_uri]:
        say("  (no hints: nothing was unlikely enough under the threshold)")

    await c.shutdown_async(None)
    c.exit(None)
    await c.stop()
    say(CONNECT)
    return 0


def main(engine: str = "local", model: str | None = None) -> int:
    return asyncio.run(session(engine, model))
