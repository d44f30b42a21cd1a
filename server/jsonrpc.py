"""JSON-RPC 2.0's shape rules, applied to each JSON value the framer reads, before pygls sees it.

pygls structured every dict with a "jsonrpc" key (nested ones too) and dropped the rest: a
message that was not JSON-RPC, a batch, or params of the wrong shape got no answer at all. Here
each value becomes either a message to dispatch or the error to answer with:
- not an object, no `"jsonrpc": "2.0"`, a method that is not a string, an id that is not a string
  or an integer: -32600 Invalid Request (with the id when it is a usable one, else null);
- params that are neither an object nor an array: -32602 Invalid Params;
- a batch (an array): rejected as a whole, as LSP has no batches: one -32600 per request in it,
  answered as an array (JSON-RPC's batch reply), or one error with `id: null` when the batch holds
  no request; an empty batch: one -32600, as JSON-RPC says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002

Kind = Literal["request", "notification", "response"]


@dataclass(frozen=True)
class Incoming:
    kind: Kind
    message: dict

    @property
    def method(self) -> str:
        return self.message.get("method", "")

    @property
    def id(self) -> Any:
        return self.message.get("id")


def error(msg_id: Any, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}


def usable_id(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def check(value: Any) -> tuple[list[Incoming], Any]:
    """The messages to dispatch and the reply to send now (None for none)."""
    if isinstance(value, list):
        return [], _reject_batch(value)
    found = check_one(value)
    if isinstance(found, Incoming):
        return [found], None
    return [], found  # an error reply, or None for a notification dropped


def check_one(obj: Any) -> Incoming | dict | None:
    """What to dispatch, the error to answer with, or None: a notification to drop."""
    if not isinstance(obj, dict):
        return error(None, INVALID_REQUEST, f"a message must be a JSON object, not {_kind(obj)}")
    has_id = "id" in obj
    msg_id = obj.get("id")
    echo = msg_id if usable_id(msg_id) else None
    if obj.get("jsonrpc") != "2.0":
        return error(echo, INVALID_REQUEST, 'a message must have "jsonrpc": "2.0"')
    if "method" in obj:
        method = obj["method"]
        if not isinstance(method, str):
            return error(echo, INVALID_REQUEST, "method must be a string")
        if has_id and not usable_id(msg_id):
            return error(None, INVALID_REQUEST, "id must be a string or an integer")
        params = obj.get("params")
        if "params" in obj and not isinstance(params, (dict, list)):
            if has_id:
                return error(msg_id, INVALID_PARAMS, f"params must be an object or an array, not {_kind(params)}")
            return None  # a notification is never answered; the transport logs it
        return Incoming("request" if has_id else "notification", obj)
    if has_id and (usable_id(msg_id) or msg_id is None) and ("result" in obj) != ("error" in obj):
        return Incoming("response", obj)
    return error(echo, INVALID_REQUEST, "neither a request (no method) nor a response (one of result and error)")


def _reject_batch(items: list) -> Any:
    if not items:
        return error(None, INVALID_REQUEST, "an empty batch")
    replies = []
    for item in items:
        found = check_one(item)
        if isinstance(found, dict):
            replies.append(found)
        elif found is not None and found.kind == "request":
            replies.append(error(found.id, INVALID_REQUEST,
                                 "batches are not supported (LSP has none): send the messages one by one"))
    if not replies:
        return error(None, INVALID_REQUEST, "batches are not supported (LSP has none): the batch was not processed")
    return replies


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)
