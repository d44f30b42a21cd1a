"""textDocument/inlineCompletion (LSP 3.18): ghost text at the cursor.

The item's range is the empty range at the cursor: the engine already trimmed what would
repeat the text after the cursor, so the suggestion is a pure insertion and replaces nothing.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from lsprotocol import types

from server.suggest import Suggester

if TYPE_CHECKING:
    from server.server import WingmanServer

_ids = itertools.count(1)


def accept_command(language: str, mode: str) -> types.Command:
    """Run by the editor when the user accepts: lets the server count acceptances (locally)."""
    return types.Command(title="Wingman: suggestion accepted", command="wingman.accept",
                         arguments=[{"id": next(_ids), "language": language, "mode": mode}])


def register(server: "WingmanServer", suggester: Suggester) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: "WingmanServer", params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        pos = params.position
        s = await suggester.suggest(params.text_document.uri, pos.line, pos.character, invoked=invoked)
        if s is None:
            return None
        ls.telemetry.count("shown", s.snap.language_id, s.mode)
        line, character = s.snap.position(s.offset)
        here = types.Position(line=line, character=character)
        # The best candidate first, then the alternatives: editors cycle through them
        # (VS Code: editor.action.inlineSuggest.showNext/showPrevious).
        items = [types.InlineCompletionItem(
            insert_text=text, range=types.Range(start=here, end=here),
            command=accept_command(s.snap.language_id, s.mode),
        ) for text in (s.text, *s.alternatives)]
        return types.InlineCompletionList(items=items)
