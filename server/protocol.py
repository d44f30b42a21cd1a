"""pygls' protocol with our own document store, the lifecycle rules of the LSP spec, and an
answer for every request.

pygls keeps open documents in its Workspace and splits lines with str.splitlines, which also
breaks at U+2028, form feeds and the like; clients do not, so positions after such a character
would drift. We keep documents ourselves (server/documents.py) and bypass pygls' copy: that also
means one copy of a 10 MB document, not two.

Messages arrive from server/transport.py already read and checked as JSON-RPC (server/framing.py,
server/jsonrpc.py). Here, before pygls dispatches them (server/PROTOCOL.md, "Lifecycle"):
- before `initialize`, a request gets -32002 and a notification is dropped (`exit` excepted);
- a second `initialize` gets -32600, and the first one's settings stay;
- after `shutdown`, a request gets -32600 and a notification other than `exit` is dropped;
- `initialized` counts once;
- params that do not structure as the method's type: -32602, for every method we know;
- a client's response that does not structure still settles the request it answers, as an error.
Out: strict JSON (a NaN in a result becomes an InternalError answer, never a bare `NaN`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, RPCRequest
from pygls.protocol.language_server import lsp_method

from server import jsonrpc
from server.framing import Broken, Message

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)


class WingmanProtocol(LanguageServerProtocol):
    _server: "WingmanServer"

    def __init__(self, server: "WingmanServer", converter: Any) -> None:
        super().__init__(server, converter)
        self._initialize_seen = False
        self._initialized_seen = False
        self.exit_code: int | None = None  # set by `exit` (0 after shutdown, 1 without)
        self.on_exit: Callable[[int], None] | None = None  # the transport's stop
        self.internal_errors = 0  # exceptions that escaped a message's handling (the fuzzer counts them)

    # --- documents -----------------------------------------------------------------------------
    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams) -> Any:
        d = params.text_document
        self._server.documents.open(d.uri, d.language_id, d.version, d.text)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_OPEN)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        self._server.documents.change(params.text_document.uri, params.text_document.version,
                                      list(params.content_changes))
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams) -> Any:
        self._server.documents.close(params.text_document.uri)
        if (handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield handler, (params,), None

    # --- the end -------------------------------------------------------------------------------
    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> None:
        """pygls closes stdout and raises SystemExit inside the handler; the transport ends the
        process instead, after stopping the worker (server/transport.py). Requests still
        running are cancelled first, so that each gets its answer (-32800) before the end."""
        for future in list(self._request_futures.values()):
            if not future.done():
                future.cancel()
        self.request_exit(0 if self._shutdown else 1)

    def request_exit(self, code: int) -> None:
        if self.exit_code is None:
            self.exit_code = code
            if self.on_exit is not None:
                self.on_exit(code)

    def connection_lost(self) -> None:
        self.request_exit(0 if self._shutdown else 1)

    # --- in ------------------------------------------------------------------------------------
    def receive(self, event: Message | Broken) -> None:
        """One event of the framer: answer what must be answered, dispatch the rest."""
        try:
            if isinstance(event, Broken):
                log.warning("bad frame: %s", event.message)
                self._send_data(jsonrpc.error(None, event.code, event.message))
                return
            messages, reply = jsonrpc.check(event.value)
            if reply is not None:
                self._send_data(reply)
            elif not messages:
                log.warning("dropped a notification whose params are neither an object nor an array")
            for incoming in messages:
                self._dispatch(incoming)
        except Exception:  # noqa: BLE001 - one message must never take the server down
            self.internal_errors += 1
            log.exception("internal error while handling a message")
            if isinstance(event, Message) and isinstance(event.value, dict) and "method" in event.value \
                    and jsonrpc.usable_id(event.value.get("id")):
                self._send_data(jsonrpc.error(event.value["id"], jsonrpc.INTERNAL_ERROR, "internal error"))

    def _dispatch(self, incoming: jsonrpc.Incoming) -> None:
        if incoming.kind == "response":
            self._receive_response(incoming.message)
            return
        method, request = incoming.method, incoming.kind == "request"
        if method != types.EXIT:
            refusal = self._lifecycle_refusal(method, request)
            if refusal is not None:
                if request:
                    self._send_data(jsonrpc.error(incoming.id, *refusal))
                else:
                    log.info("dropped %s: %s", method, refusal[1])
                return
        try:
            message = self._structure(incoming)
        except Exception as exc:  # noqa: BLE001 - cattrs says what did not fit
            reason = _reason(exc)
            if request:
                self._send_data(jsonrpc.error(incoming.id, jsonrpc.INVALID_PARAMS, f"invalid params for {method}: {reason}"))
            else:
                log.warning("dropped %s with invalid params: %s", method, reason)
            return
        if request and not isinstance(message, RPCRequest):
            self._send_data(jsonrpc.error(incoming.id, jsonrpc.INVALID_REQUEST, f"{method} is a notification: send it without an id"))
            return
        if not request and isinstance(message, RPCRequest):
            log.warning("dropped %s: a request sent without an id", method)
            return
        if method == types.INITIALIZE:
            self._initialize_seen = True
        elif method == types.INITIALIZED:
            self._initialized_seen = True
        self.handle_message(message)

    def _structure(self, incoming: jsonrpc.Incoming) -> Any:
        """The message as its lsprotocol type (pygls' structure_message, without its error log
        per bad message: the client gets the reason instead)."""
        data = incoming.message
        if "params" not in data:
            data = {**data, "params": None}
        if incoming.kind == "request":
            cls = self.get_message_type(incoming.method) or JsonRPCRequestMessage
        else:
            cls = self.get_message_type(incoming.method) or JsonRPCNotification
        return self._converter.structure(data, cls)

    def _lifecycle_refusal(self, method: str, request: bool) -> tuple[int, str] | None:
        if not self._initialize_seen:
            if method == types.INITIALIZE:
                return None
            return jsonrpc.SERVER_NOT_INITIALIZED, "the server is not initialized: send initialize first"
        if method == types.INITIALIZE:
            return jsonrpc.INVALID_REQUEST, "initialize may only be sent once"
        if self._shutdown:
            return jsonrpc.INVALID_REQUEST, "the server is shut down: only exit is accepted"
        if method == types.INITIALIZED and self._initialized_seen:
            return jsonrpc.INVALID_REQUEST, "initialized was already received"
        return None

    def _receive_response(self, obj: dict) -> None:
        msg_id = obj.get("id")
        if not jsonrpc.usable_id(msg_id):
            log.warning("a response with id %r answers nothing we asked", msg_id)
            return
        err = obj.get("error")
        if "error" in obj and not (isinstance(err, dict) and isinstance(err.get("code"), int)
                                   and not isinstance(err.get("code"), bool) and isinstance(err.get("message"), str)):
            obj = {**obj, "error": {"code": jsonrpc.INTERNAL_ERROR, "message": f"malformed error object: {err!r:.80}"}}
        try:
            if "error" in obj:
                message = self._converter.structure(obj, types.ResponseErrorMessage)
            else:
                cls = self._result_types.pop(msg_id, None) or JsonRPCResponseMessage
                message = self._converter.structure(obj, cls)
        except Exception as exc:  # noqa: BLE001 - settle the request anyway: nothing waits forever
            self._result_types.pop(msg_id, None)
            self._handle_response(msg_id, None, types.ResponseError(
                code=jsonrpc.INVALID_PARAMS, message=f"malformed response: {_reason(exc)}"))
            return
        self.handle_message(message)

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None) -> None:
        # pygls files the future of every notification (and of each step of a generator handler)
        # in _request_futures under a fresh uuid and never takes it out: 2 KB per didChange, for
        # ever. A finished future is taken out here, unless it is a request's (pygls does that).
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)
        if future is not None:
            future.add_done_callback(lambda f, key=msg_id: self._forget_future(key, f))

    def _run_generator(self, future: Any, *, gen: Any, result_future: Any) -> None:
        # A generator handler (pygls' executeCommand) whose step was cancelled — a command's task
        # cancelled by $/cancelRequest, by shutdown, or by the command itself — would raise
        # CancelledError (a BaseException) out of a loop callback: the request is cancelled instead,
        # and answered -32800 like any other.
        if future is not None and future.cancelled():
            gen.close()
            if not result_future.done():
                result_future.cancel()
            return
        super()._run_generator(future, gen=gen, result_future=result_future)

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Any:
        """pygls' shutdown, over a copy of the pending requests: cancelling a thread's future
        runs its callbacks at once, and they take it out of the dict being walked."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        """A response to a request of ours that was cancelled meanwhile (at shutdown, exit, or by
        its awaiter) is late, not an error."""
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            self._request_futures.pop(msg_id, None)
            log.info("late response to %r ignored", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        if not jsonrpc.usable_id(msg_id):  # an id that is a list or a float is no id of ours
            log.warning("$/cancelRequest with id %r ignored", msg_id)
            return
        super()._handle_cancel_notification(msg_id)

    def _forget_future(self, key: Any, future: Any) -> None:
        if self._request_futures.get(key) is future:
            del self._request_futures[key]

    # --- out -----------------------------------------------------------------------------------
    def _send_data(self, data: Any) -> None:
        if not data or self.writer is None:
            return
        try:
            body = json.dumps(data, default=self._serialize_message, allow_nan=False)
        except ValueError:
            msg_id = data.get("id") if isinstance(data, dict) else getattr(data, "id", None)
            is_answer = (isinstance(data, dict) and "method" not in data) or hasattr(data, "result")
            log.error("not sent: a message held NaN or an infinity (id %r)", msg_id)
            if not (is_answer and jsonrpc.usable_id(msg_id)):
                return
            body = json.dumps(jsonrpc.error(msg_id, jsonrpc.INTERNAL_ERROR,
                                            "the answer held a number that JSON cannot carry (NaN or an infinity)"))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sending %s", body[:2000])
        # ensure_ascii (json's default) makes the body ASCII: its length is its byte count.
        frame = f"Content-Length: {len(body)}\r\nContent-Type: {self.CONTENT_TYPE}; charset={self.CHARSET}\r\n\r\n{body}"
        try:
            self.writer.write(frame.encode("ascii"))
        except (OSError, ValueError) as exc:  # a closed pipe or socket: the client is gone
            log.warning("the client is gone (%s)", exc)
            self.connection_lost()


def _reason(exc: BaseException) -> str:
    """The first leaf of a cattrs error, short."""
    seen = exc.__cause__ or exc
    while getattr(seen, "exceptions", None):
        seen = seen.exceptions[0]  # type: ignore[attr-defined]
    text = f"{type(seen).__name__}: {seen}" if str(seen) else type(seen).__name__
    return text[:300]
