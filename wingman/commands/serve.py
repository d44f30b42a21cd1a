"""`wingman serve` (the language server) and `wingman demo` (a scripted session against it)."""

from __future__ import annotations

import argparse
import logging
import sys

from model.configs import wire_name
from wingman.engine_flags import add_engine_flags, given

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _tcp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None


def add(sub: argparse._SubParsersAction, name: str) -> None:
    if name == "serve":
        p = sub.add_parser(name, help="run the language server (stdio by default)",
                           description="Speak LSP over stdio, or over TCP with --tcp. The model flags "
                           "override the settings the editor sends.")
        p.add_argument("--tcp", type=_tcp, metavar="HOST:PORT",
                       help="listen on TCP instead of stdio (HOST defaults to 127.0.0.1: loopback only)")
        p.add_argument("--stdio", action="store_true", help="speak over stdio (the default)")
        p.add_argument("--log-file", help="write the server's log here (stdout carries the protocol)")
        p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
        add_engine_flags(p)
        p.set_defaults(func=serve)
    else:
        p = sub.add_parser(name, help="play a real LSP session against examples/ and print what an editor shows")
        p.add_argument("--engine", choices=("local", "fake"), default="local",
                       help="the model to use (fake: no model needed, for a quick look)")
        p.add_argument("--model", metavar="PATH", help="a checkpoint directory or .gguf file")
        p.set_defaults(func=demo)


def overrides_from(args: argparse.Namespace) -> dict:
    """The model flags as server settings (camelCase, as the editor would send them)."""
    from dataclasses import fields

    from model.config import EngineConfig

    by_name = {f.name: f for f in fields(EngineConfig)}
    model = {wire_name(by_name[k]): v for k, v in given(args).items()}
    return {"model": model} if model else {}


def serve(args: argparse.Namespace) -> int:
    handler: logging.Handler = logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(args.log_level if args.log_file else "WARNING")
    # pygls logs every message body at INFO; keep that out of the user's log unless asked.
    logging.getLogger("pygls").setLevel(logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING)

    from server.server import create_server

    server = create_server(overrides_from(args))
    if args.tcp:
        host, port = args.tcp
        if host not in LOOPBACK:
            print(f"wingman: listening on {host}:{port}, reachable from other machines: your code "
                  "will cross the network unencrypted", file=sys.stderr)
        # The transport says "Serving on (host, port)" once it listens: let that through to stderr.
        logging.getLogger("server.transport").setLevel(logging.INFO)
        code = server.start_tcp(host, port)
    else:
        code = server.start_io()
    end_process(code)
    return code


def end_process(code: int) -> None:
    """End without the interpreter's finalization: with torch loaded it could abort (SIGABRT,
    "terminate called without an active exception") while tearing down threads that torch
    started. The server has stopped its inference worker and written what it keeps
    (WingmanServer.stop); here the logs and streams are flushed, and the process ends with the
    code the LSP spec asks for (0 after shutdown, 1 without)."""
    import os

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def demo(args: argparse.Namespace) -> int:
    from wingman.demo import main

    return main(engine=args.engine, model=args.model)
