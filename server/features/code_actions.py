"""textDocument/codeAction: translate, generate tests, code from comment, and hint quick fixes.

The generation actions carry commands, not edits: computing them takes the model seconds, so
they run only when chosen (with progress), and their edit arrives by workspace/applyEdit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from server import edits
from server.features.code_from_comment import find_target
from server.features.commands import CODE_FROM_COMMENT, GENERATE_TESTS, TRANSLATE
from server.features.diagnostics import SOURCE
from model.tasks import prompts, pysource

if TYPE_CHECKING:
    from server.server import WingmanServer

MAX_PARSE = 500_000  # chars; beyond this, no Python analysis on every cursor move


def register(server: "WingmanServer") -> None:
    kinds = [types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite]
    options = types.CodeActionOptions(code_action_kinds=kinds)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, options)
    def code_action(ls: "WingmanServer", params: types.CodeActionParams) -> list[types.CodeAction] | None:
        snap = ls.snapshot(params.text_document.uri)
        if snap is None or not ls.servable(snap) or not ls.host.ready:
            return None
        rng = params.range
        if not snap.has_line(rng.start.line):
            return None
        start = snap.offset(rng.start.line, rng.start.character)
        end = snap.offset(rng.end.line, rng.end.character)
        actions: list[types.CodeAction] = list(quick_fixes(ls, snap, params.context.diagnostics))

        source = prompts.canonical(snap.language_id)
        if end > start and snap.text[start:end].strip():
            for target, (name, _, _) in prompts.LANGUAGES.items():
                if target != source:
                    actions.append(types.CodeAction(
                        title=f"Translate selection to {name}", kind=types.CodeActionKind.RefactorRewrite,
                        command=types.Command(title=f"Translate selection to {name}", command=TRANSLATE,
                                              arguments=[snap.uri, _range_json(rng), target]),
                    ))
        here = {"line": rng.start.line, "character": rng.start.character}
        if snap.language_id == "python" and len(snap.text) < MAX_PARSE:
            fn = pysource.function_at(snap.text, start)
            if fn is not None:
                title = f"Generate tests for {fn.name}"
                actions.append(types.CodeAction(title=title, kind=types.CodeActionKind.RefactorRewrite,
                                                command=types.Command(title=title, command=GENERATE_TESTS, arguments=[snap.uri, here])))
        if len(snap.text) < MAX_PARSE and find_target(snap, start) is not None:
            title = "Generate code from comment"
            actions.append(types.CodeAction(title=title, kind=types.CodeActionKind.RefactorRewrite,
                                            command=types.Command(title=title, command=CODE_FROM_COMMENT, arguments=[snap.uri, here])))
        wanted = [str(getattr(w, "value", w)) for w in params.context.only or []]
        actions = [a for a in actions if _allowed(str(getattr(a.kind, "value", a.kind)), wanted)]
        return actions or None


def _allowed(kind: str, wanted: list[str]) -> bool:
    return not wanted or any(w == "" or kind == w or kind.startswith(w + ".") for w in wanted)


def _range_json(rng: types.Range) -> dict:
    return {"start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character}}


def quick_fixes(ls: "WingmanServer", snap, diagnostics: list[types.Diagnostic]):
    """A quick fix for each of our hints in the request: apply the model's preferred token."""
    for d in diagnostics:
        data = d.data if isinstance(d.data, dict) else None
        if d.source != SOURCE or not data or not isinstance(data.get("replacement"), str):
            continue
        a = snap.offset(d.range.start.line, d.range.start.character)
        b = snap.offset(d.range.end.line, d.range.end.character)
        if data.get("original") and snap.text[a:b] != data["original"]:
            continue  # the text under the hint changed; the fix no longer applies
        yield types.CodeAction(
            title=f"Replace `{snap.text[a:b]}` with `{data['replacement']}`", kind=types.CodeActionKind.QuickFix,
            diagnostics=[d], is_preferred=True, edit=edits.replace(ls, snap, a, b, data["replacement"]),
        )
