"""textDocument/completion, the fallback for clients without inline completion.

One item, clearly labelled, and nothing else: the language's own server owns the completion
menu. Registered at initialize only when the client lacks inline completion (or the option says
so), so a client never pays two model calls for one keystroke. The item's textEdit covers the
word being typed, because menus filter by it; what it inserts is that word plus the suggestion.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types

from server.features.inline_completion import accept_command
from server.suggest import Suggester

if TYPE_CHECKING:
    from server.server import WingmanServer

_WORD_TAIL = re.compile(r"[\w$]*\Z")


def register(server: "WingmanServer", suggester: Suggester) -> None:
    def at_initialize(ls: "WingmanServer") -> None:
        fallback = ls.settings.completion.fallback
        if fallback == "on" or (fallback == "auto" and not ls.client_supports_inline):
            _register(ls, suggester)

    server.initialize_hooks.append(at_initialize)


def _register(server: "WingmanServer", suggester: Suggester) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))
    async def completion(ls: "WingmanServer", params: types.CompletionParams) -> types.CompletionList | None:
        if ls.settings.completion.fallback == "off":
            return None
        pos = params.position
        invoked = bool(params.context and params.context.trigger_kind == types.CompletionTriggerKind.Invoked)
        s = await suggester.suggest(params.text_document.uri, pos.line, pos.character, invoked=invoked)
        if s is None:
            return None
        ls.telemetry.count("shown", s.snap.language_id, s.mode)
        line_start = s.snap.starts[s.snap.position(s.offset)[0]]
        word = _WORD_TAIL.search(s.snap.text[line_start : s.offset]).group()
        start = types.Position(*s.snap.position(s.offset - len(word)))
        end = types.Position(*s.snap.position(s.offset))
        first_line = s.text.split("\n", 1)[0]
        label = (word + first_line).strip() or s.text.strip().split("\n", 1)[0]
        item = types.CompletionItem(
            label=label[:80] + ("…" if len(label) > 80 or "\n" in s.text else ""),
            label_details=types.CompletionItemLabelDetails(description="Wingman"),
            kind=types.CompletionItemKind.Text,
            detail="Wingman suggestion",
            documentation=types.MarkupContent(kind=types.MarkupKind.PlainText, value=s.text),
            filter_text=word + s.text,
            sort_text="~wingman",  # after the language server's own items
            insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(range=types.Range(start=start, end=end), new_text=word + s.text),
            command=accept_command(s.snap.language_id, s.mode),
        )
        # Incomplete: the next keystroke asks again (answered from the type-ahead cache).
        return types.CompletionList(is_incomplete=True, items=[item])
