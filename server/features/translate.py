"""wingman.translate [uri, range, targetLanguage]: translate a selection.

The translation is a new file beside the source, on disk and shown (CreateFile + an edit for a
client that can create files, else written by the server; never overwriting), or replaces the
selection (`actions.translateTarget: "replace"`, a versioned edit).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from server import edits
from server.features.commands import TRANSLATE, BadArguments, _uri, range_arg
from server.generation import apply, generate, not_ready, tell, write_new_file
from model.tasks import prompts

if TYPE_CHECKING:
    from server.server import WingmanServer


def target_uri(ls: "WingmanServer", source_path: str, target: str) -> str:
    ext = prompts.LANGUAGES[target][1]
    src = Path(source_path)
    candidate = src.with_suffix(ext)
    n = 2
    while candidate.exists() or edits.path_to_uri(candidate) in ls.documents:
        candidate = src.with_name(f"{src.stem}_{n}{ext}")
        n += 1
    return edits.path_to_uri(candidate)


def register(server: "WingmanServer") -> None:
    @server.command(TRANSLATE)
    async def translate(ls, *args: Any) -> dict | None:
        if len(args) == 1 and isinstance(args[0], dict):
            a = args[0]
            args = (a.get("uri"), a.get("range"), a.get("target") or a.get("targetLanguage"))
        if len(args) != 3:
            raise BadArguments("expected [uri, range, targetLanguage]")
        uri, rng, target = _uri(args[0]), range_arg(args[1]), prompts.canonical(str(args[2]))
        if target not in prompts.LANGUAGES:
            raise BadArguments(f"target language must be one of {', '.join(prompts.LANGUAGES)}")
        snap = ls.snapshot(uri)
        if snap is None or not ls.servable(snap) or not_ready(ls):
            return None
        start, end = snap.offset(rng.start.line, rng.start.character), snap.offset(rng.end.line, rng.end.character)
        code = snap.text[start:end]
        if not code.strip():
            tell(ls, "Wingman: select the code to translate first.")
            return None
        name = prompts.display(target)
        reply = await generate(ls, f"Wingman: translating to {name}", prompts.translate(code, snap.language_id, target),
                               language=target)
        if reply is None:
            return None
        out = prompts.extract_code(reply, target)
        if not out.strip():
            tell(ls, "Wingman: the model returned no code.")
            return {"applied": False, "text": ""}
        if ls.settings.actions.translate_target == "replace":
            applied = await apply(ls, edits.replace(ls, snap, start, end, out), f"Translate to {name}")
            return {"applied": applied, "uri": uri, "text": out}
        new_uri = target_uri(ls, snap.path, target)
        applied = await write_new_file(ls, new_uri, out, f"Translate to {name}")
        return {"applied": applied, "uri": new_uri, "text": out, "language": target}
