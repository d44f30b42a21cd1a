"""Model-based hints end to end: published, quick-fixed, limited, and kept off private files."""

from __future__ import annotations

from lsprotocol import types

from lsp_harness import Session, code_actions

SURPRISE = {"surprising": {"<": "<="}}


async def test_hint_and_quick_fix(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE})
    uri = (tmp_path / "clamp.py").as_uri()
    text = "def inside(v, hi):\n    # 中文 😀 comment with < in it\n    return v < hi\n"
    s.editor.open(uri, text, version=4)
    diags = await s.editor.diagnostics(uri)
    assert len(diags) == 1  # the `<` in the comment is not hinted
    d = diags[0]
    col = {"utf-16": 13, "utf-8": 13, "utf-32": 13}[s.editor.encoding]
    assert d.range == types.Range(start=types.Position(line=2, character=col), end=types.Position(line=2, character=col + 1))
    assert d.severity in (types.DiagnosticSeverity.Information, types.DiagnosticSeverity.Hint)
    assert "<=" in d.message and d.source == "wingman"
    actions = await code_actions(s.client, types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=d.range,
        context=types.CodeActionContext(diagnostics=[d], only=[types.CodeActionKind.QuickFix])))
    assert [a.title for a in actions] == ["Replace `<` with `<=`"]
    assert s.editor.apply(actions[0].edit) == (True, None)
    assert actions[0].edit.document_changes[0].text_document.version == 4
    assert s.editor.docs[uri][0].endswith("return v <= hi\n")
    # The fix removed the surprise: the next publication is empty.
    assert await s.editor.diagnostics(uri, pred=lambda p: p.version == 5) == []


async def test_hint_positions_on_a_cjk_line(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE})
    uri = (tmp_path / "cjk.py").as_uri()
    s.editor.open(uri, 'ok = ("中文😀", a < b)\n')
    (d,) = await s.editor.diagnostics(uri)
    # `ok = ("` is 7, 中文😀 is 3 code points = 4 UTF-16 units = 10 UTF-8 bytes, `", a ` is 5.
    col = {"utf-16": 16, "utf-8": 22, "utf-32": 15}[s.editor.encoding]
    assert d.range.start == types.Position(line=0, character=col)


async def test_never_more_than_a_handful_per_screen(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE})
    uri = (tmp_path / "many.py").as_uri()
    s.editor.open(uri, "".join(f"r{i} = a < b\n" for i in range(30)) + "\n" * 60 + "z = a < b\n")
    diags = await s.editor.diagnostics(uri)
    lines = sorted(d.range.start.line for d in diags)
    assert len(lines) == 3 and lines[-1] == 90  # two on the first screen, one on the next


async def test_private_and_oversized_files_get_no_hints(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE, "diagnostics": {"maxFileBytes": 2000}})
    mark = s.editor.mark()
    secret = (tmp_path / ".env").as_uri()
    big = (tmp_path / "big.py").as_uri()
    small = (tmp_path / "small.py").as_uri()
    s.editor.open(secret, "a = x < y\n")
    s.editor.open(big, "a = x < y\n" + "# filler\n" * 400)
    s.editor.open(small, "a = x < y\n")
    # Opened in this order, with the same debounce: a hint for the first two would come first.
    assert len(await s.editor.diagnostics(small, mark)) == 1
    published = {p.uri for p in s.editor.of("textDocument/publishDiagnostics")}
    assert secret not in published and big not in published


async def test_large_file_hints_only_the_changed_region(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE})
    uri = (tmp_path / "large.py").as_uri()
    text = "x = a < b\n" + "".join(f"v{i} = {i}\n" for i in range(1500))  # > 6000 chars: windowed
    s.editor.open(uri, text)
    version = s.editor.type_at_end(uri, "w = c < d\n")
    diags = await s.editor.diagnostics(uri, pred=lambda p: p.version == version)
    assert [d.range.start.line for d in diags] == [1501]  # not the `<` on line 0


async def test_diagnostics_off_by_configuration(s: Session, tmp_path):
    await s.start({"fakeEngine": SURPRISE})
    uri = (tmp_path / "a.py").as_uri()
    s.editor.open(uri, "a = x < y\n")
    assert len(await s.editor.diagnostics(uri)) == 1
    mark = s.editor.mark()
    s.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"wingman": {"diagnostics": {"enabled": False}}}))
    assert await s.editor.diagnostics(uri, mark) == []  # cleared
