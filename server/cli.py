"""`wingman serve` and `wingman demo`, registered into the `wingman` command (model/cli.py)."""

from __future__ import annotations

import argparse
import logging
import sys


def _tcp(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the language server (stdio by default)",
                           description="Speak LSP over stdio, or over TCP with --tcp.")
    serve.add_argument("--tcp", type=_tcp, metavar="HOST:PORT",
                       help="listen on TCP instead of stdio (HOST defaults to 127.0.0.1: loopback only)")
    serve.add_argument("--stdio", action="store_true", help="speak over stdio (the default)")
    serve.add_argument("--engine", choices=("local", "remote", "fake"),
                       help="override the model backend the editor asks for (fake: for tests)")
    serve.add_argument("--model", metavar="PATH", help="override the model path the editor asks for")
    serve.add_argument("--device", help="override the device (cpu, cuda, mps, auto)")
    serve.add_argument("--log-file", help="write the server's log here (stdout carries the protocol)")
    serve.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    serve.set_defaults(func=run_serve)

    demo = sub.add_parser("demo", help="play a real LSP session against examples/ and print what an editor shows")
    demo.add_argument("--engine", choices=("local", "fake"), default="local",
                      help="the model to use (fake: no model needed, for a quick look)")
    demo.add_argument("--model", metavar="PATH", help="a checkpoint directory or .gguf file")
    demo.set_defaults(func=run_demo)


def overrides_from(args: argparse.Namespace) -> dict:
    model: dict = {}
    if args.engine:
        model["backend"] = args.engine
    if getattr(args, "model", None):
        model["path"] = args.model
    if getattr(args, "device", None):
        model["device"] = args.device
    return {"model": model} if model else {}


def run_serve(args: argparse.Namespace) -> int:
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
        if host not in ("127.0.0.1", "localhost", "::1"):
            print(f"wingman: listening on {host}:{port}, reachable from other machines: your code "
                  "will cross the network unencrypted", file=sys.stderr)
        # pygls says "Serving on (host, port)" once it listens: let that through to stderr.
        logging.getLogger("pygls.server").setLevel(logging.INFO)
        server.start_tcp(host, port)
    else:
        server.start_io()
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from server.demo import main

    return main(engine=args.engine, model=args.model)
