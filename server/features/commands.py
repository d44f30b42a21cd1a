"""workspace/executeCommand: the small commands (accept, toggle, status) and the argument
checks every command shares; the generation commands register themselves in their own files.

Arguments are accepted positionally (`[uri, position]`) or as one object
(`[{"uri": ..., "position": ...}]`); see server/PROTOCOL.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

if TYPE_CHECKING:
    from server.server import WingmanServer

ACCEPT, TOGGLE, STATUS = "wingman.accept", "wingman.toggle", "wingman.status"
GENERATE_TESTS, TRANSLATE, CODE_FROM_COMMENT = "wingman.generateTests", "wingman.translate", "wingman.codeFromComment"


class BadArguments(JsonRpcInvalidParams):
    """Answered as an Invalid Params error; the server keeps serving."""


def position_args(args: tuple) -> tuple[str, types.Position]:
    """`[uri, {line, character}]` or `[{"uri": ..., "position": {...}}]`."""
    if len(args) == 1 and isinstance(args[0], dict):
        uri, pos = args[0].get("uri"), args[0].get("position")
    elif len(args) >= 2:
        uri, pos = args[0], args[1]
    else:
        raise BadArguments("expected [uri, position] or [{uri, position}]")
    return _uri(uri), _position(pos)


def _uri(uri: Any) -> str:
    if not isinstance(uri, str) or not uri:
        raise BadArguments("uri must be a string")
    return uri


UINTEGER_MAX = 2**31 - 1  # LSP's uinteger


def _uinteger(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= UINTEGER_MAX


def _position(pos: Any) -> types.Position:
    if isinstance(pos, dict) and _uinteger(pos.get("line")) and _uinteger(pos.get("character")):
        return types.Position(line=pos["line"], character=pos["character"])
    raise BadArguments(f"position must be {{line, character}}, integers from 0 to {UINTEGER_MAX}")


def range_arg(rng: Any) -> types.Range:
    if not isinstance(rng, dict):
        raise BadArguments("range must be {start, end}")
    return types.Range(start=_position(rng.get("start")), end=_position(rng.get("end")))


def accept_args(args: tuple) -> dict:
    """`[]` or `[{"id"?, "language"?, "mode"?}]` (what our items' command carries). Which strings
    become counts is the telemetry's business (a fixed set: server/telemetry.py)."""
    if not args:
        return {}
    info = args[0]
    if len(args) > 1 or not isinstance(info, dict):
        raise BadArguments('expected [{"id", "language", "mode"}]')
    for key in ("language", "mode"):
        if key in info and not isinstance(info[key], str):
            raise BadArguments(f"{key} must be a string")
    if "id" in info and not (isinstance(info["id"], (int, str)) and not isinstance(info["id"], bool)):
        raise BadArguments("id must be an integer or a string")
    return info


def register(server: "WingmanServer") -> None:
    @server.command(ACCEPT)
    def accept(ls, *args: Any) -> None:
        info = accept_args(args)
        ls.telemetry.count("accepted", info.get("language", ""), info.get("mode", ""))
        ls.telemetry.flush()
        for listener in ls.accept_listeners:
            listener(info)

    @server.command(TOGGLE)
    def toggle(ls, *args: Any) -> dict:
        if len(args) > 1 or (args and not isinstance(args[0], bool)):
            raise BadArguments("expected [] (flip) or [true] / [false]")
        want = args[0] if args else not ls.settings.completion.enabled
        ls.settings.completion.enabled = want
        return {"enabled": want}

    @server.command(STATUS)
    def status(ls, *args: Any) -> dict:
        from server.config import to_json

        return {**ls.host.status(), "settings": to_json(ls.settings)}
