"""`wingman complete FILE LINE:COL`: one completion, printed, with its latency."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from wingman.engine_flags import add_engine_flags, engine_config

LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".java": "java", ".cpp": "cpp",
             ".cc": "cpp", ".c": "c", ".h": "c", ".go": "go", ".rs": "rust", ".rb": "ruby", ".lua": "lua"}


def add(sub: argparse._SubParsersAction, name: str) -> None:
    c = sub.add_parser(name, help="complete a file at LINE:COL and print the result")
    c.add_argument("file")
    c.add_argument("position", help="LINE:COL, 1-based")
    c.add_argument("--mode", default="auto", choices=["auto", "single", "multi"])
    c.add_argument("--max-tokens", type=int, default=64)
    c.add_argument("--language", default=None)
    c.add_argument("--repeat", type=int, default=1, help="complete N times (the later ones reuse the KV cache)")
    c.add_argument("--json", action="store_true")
    add_engine_flags(c)
    c.set_defaults(func=run)


def parse_position(text: str, spec: str) -> int:
    """LINE:COL (1-based, as editors show them) to a str offset."""
    try:
        line_s, col_s = spec.split(":")
        line, col = int(line_s), int(col_s)
    except ValueError:
        raise SystemExit(f"position must be LINE:COL, got {spec!r}") from None
    lines = text.split("\n")
    if not 1 <= line <= len(lines) or not 1 <= col <= len(lines[line - 1]) + 1:
        raise SystemExit(f"position {spec} is outside the file ({len(lines)} lines)")
    return sum(len(ln) + 1 for ln in lines[: line - 1]) + col - 1


def run(args: argparse.Namespace) -> int:
    from model.engine import EngineError
    from model.factory import load_engine
    from model.types import CompletionRequest

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 1
    offset = parse_position(text, args.position)
    t0 = time.perf_counter()
    try:
        engine = load_engine(engine_config(args))
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    load_s = time.perf_counter() - t0
    request = CompletionRequest(prefix=text[:offset], suffix=text[offset:], path=str(path),
                                language=args.language or LANGUAGES.get(path.suffix, "plaintext"), mode=args.mode,
                                max_tokens=args.max_tokens)
    results = engine.complete(request)
    for _ in range(args.repeat - 1):  # the same request again: shows the KV cache reuse
        results = engine.complete(request)
    if args.json:
        print(json.dumps([{"text": c.text, "confidence": c.confidence, "stop_reason": c.stop_reason,
                           "mode": c.mode, "timings": vars(c.timings)} for c in results], indent=2))
        return 0
    print(f"model: {engine.info.name} ({engine.info.quantization}, FIM {engine.info.fim_template}); loaded in {load_s:.1f} s")
    if not results:
        print("(no completion)")
        return 0
    c = results[0]
    t = c.timings
    line_start = text.rfind("\n", 0, offset) + 1
    shown = "\x1b[2m" + c.text + "\x1b[0m" if sys.stdout.isatty() else "⟨" + c.text + "⟩"
    print(f"--- {path}:{args.position} ({c.mode}-line, stop: {c.stop_reason}, confidence {c.confidence:.2f})")
    print(text[line_start:offset] + shown)
    print(f"--- latency {t.total_ms:.0f} ms: prompt {t.prompt_tokens} tokens ({t.cached_tokens} cached), "
          f"prefill {t.prefill_ms:.0f} ms, {t.generated_tokens} tokens in {t.decode_ms:.0f} ms "
          f"({t.decode_tokens_per_s:.1f} tok/s)")
    return 0
