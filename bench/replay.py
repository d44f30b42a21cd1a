"""A typing replay through the real server: the latency a user feels, keystroke by keystroke.

    python bench/replay.py --keystrokes 60 --seed 0 --json /tmp/replay.json

It starts `wingman serve` over stdio (or --server-cmd), opens a copy of argparse.py from the running
Python's stdlib (or --file), and at lines chosen by the seed (named function:+offset, so a run can
be repeated) deletes the end of a statement and retypes it one character at a time, as an editor
does: an incremental didChange, then textDocument/inlineCompletion (triggerKind Automatic), waiting
for each answer before the next keystroke. Between bursts the cursor jumps to another function.

Each pass is one fresh server. The first pass is the server as shipped; the second, the baseline,
is the same server with --baseline settings (default `completion.debounceMs=0`: every keystroke
goes straight to the model). The KV-cache reuse and the type-ahead cache cannot be switched off by
a setting today, so "naive" here means "no debounce", and that is what the baseline measures.
--llamacpp adds a pass with the remote backend on llama-server (the base GGUF: another model, the
same path through the server; its peak RSS is Wingman's process only, not llama-server's).

Type-ahead hits are told apart exactly: the server does not report them (no log line, no
telemetry count), so the replay feeds the server's own SuggestionCache (server/cache.py) with the
same document text and the same answers, which predicts every hit; answers under 20 ms are
counted as a cross-check.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import json
import math
import random
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.llamacpp import cpu_features  # noqa: E402
from server.cache import SuggestionCache  # noqa: E402

FAST_MS = 20.0
WAIT_S = 600.0  # a guard against a hung server, not a delay


@dataclass(frozen=True)
class Target:
    name: str  # "Class.method:+offset", stable for a given file
    line: int  # 0-based
    cut: int  # column where the retyped tail starts


@dataclass
class Request:
    kind: str  # "cold" (just opened), "jump" (first after the cursor moved), "type"
    target: str
    ms: float
    answered: bool  # False: null or no items
    chars: int
    cached: bool  # predicted by the mirrored SuggestionCache


@dataclass
class Pass:
    name: str
    settings: dict
    load_s: float = 0.0
    loadavg: str = ""  # the machine's 1-minute load average at the pass's start and end: others share the CPU
    peak_rss_mib: float = 0.0
    requests: list[Request] = field(default_factory=list)


def pick_targets(text: str, keystrokes: int, burst: int, seed: int) -> list[Target]:
    """One-line statements in distinct functions, chosen by the seed, until their bursts (a delete,
    then one request per retyped character) add up to exactly `keystrokes` requests."""
    lines = text.split("\n")
    found: list[Target] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{scope}.{child.name}" if scope else child.name
                if not isinstance(child, ast.ClassDef):
                    stmts = [s for s in ast.walk(child) if isinstance(s, (ast.Assign, ast.Return, ast.Expr, ast.AugAssign))
                             and s.lineno == s.end_lineno and s.lineno > child.lineno]
                    for s in stmts:
                        line = lines[s.lineno - 1].rstrip()
                        code = line.strip()
                        if len(code) >= 16 and not code.startswith(('"', "'", "#")):
                            found.append(Target(f"{name}:+{s.lineno - child.lineno}", s.lineno - 1,
                                                len(line) - min(burst, len(code) - 4)))
                            break
                visit(child, name)

    visit(ast.parse(text), "")
    random.Random(seed).shuffle(found)
    chosen, left = [], keystrokes
    for t in found:
        if left <= 0:
            break
        tail = len(lines[t.line].rstrip()) - t.cut
        keep = min(tail, left - 1)  # the delete is a request too
        chosen.append(Target(t.name, t.line, t.cut + tail - keep))
        left -= keep + 1
    return chosen


def utf16(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident set since it started, model loading included."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Editor:
    def __init__(self, client: LanguageClient, uri: str, text: str) -> None:
        self.client, self.uri, self.lines, self.version = client, uri, text.split("\n"), 1
        self.mirror = SuggestionCache()

    def text(self) -> str:
        return "\n".join(self.lines)

    def edit(self, line: int, start: int, end: int, new: str) -> None:
        old = self.lines[line]
        a = types.Position(line=line, character=utf16(old[:start]))
        b = types.Position(line=line, character=utf16(old[:end]))
        self.lines[line] = old[:start] + new + old[end:]
        self.version += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=self.uri, version=self.version),
            content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=a, end=b), text=new)]))

    async def ask(self, line: int, col: int, kind: str, target: str) -> Request:
        prefix = "\n".join(self.lines[:line] + [self.lines[line][:col]])
        suffix_line = self.lines[line][col:]
        cached = self.mirror.lookup(self.uri, prefix, suffix_line) is not None
        pos = types.Position(line=line, character=utf16(self.lines[line][:col]))
        t0 = time.perf_counter()
        result = await asyncio.wait_for(self.client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=self.uri), position=pos,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))), WAIT_S)
        ms = 1000 * (time.perf_counter() - t0)
        items = getattr(result, "items", None) or (result if isinstance(result, list) else [])
        shown = items[0].insert_text if items else ""
        shown = shown if isinstance(shown, str) else shown.value
        if shown and not cached:
            self.mirror.put(self.uri, prefix, suffix_line, shown)  # what the server's cache now holds
        return Request(kind, target, round(ms, 1), bool(shown), len(shown), cached)


async def run_pass(p: Pass, cmd: list[str], source: str, targets: list[Target]) -> Pass:
    root = Path(tempfile.mkdtemp(prefix="wingman-replay-"))
    path = root / "argparse_copy.py"
    path.write_text(source)
    client = LanguageClient("wingman-replay", "0.1")
    ready, state = asyncio.Event(), {}

    @client.feature("wingman/status")
    def status(params):
        get = params.get if isinstance(params, dict) else lambda k: getattr(params, k, None)
        state.update(state=get("state"), message=get("message"))
        if get("state") in ("ready", "error"):
            ready.set()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def diagnostics(params):
        pass

    start_load = _loadavg()
    t0 = time.perf_counter()
    await client.start_io(*cmd)
    proc = client._server
    # pygls pipes the server's stderr without reading it; a full pipe would stall the server.
    log = root / "server.stderr"
    drain = asyncio.ensure_future(_drain(proc.stderr, log))
    try:
        await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
                inline_completion=types.InlineCompletionClientCapabilities())),
            root_uri=root.as_uri(), initialization_options=p.settings))
        client.initialized(types.InitializedParams())
        await asyncio.wait_for(ready.wait(), WAIT_S)
        p.load_s = round(time.perf_counter() - t0, 2)
        if state.get("state") != "ready":
            raise RuntimeError(f"the server did not load its model: {state.get('message')}")
        ed = Editor(client, path.as_uri(), source)
        client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
            uri=ed.uri, language_id="python", version=1, text=source)))
        first = targets[0]
        p.requests.append(await ed.ask(first.line, len(ed.lines[first.line]), "cold", first.name))
        for t in targets:
            tail = ed.lines[t.line][t.cut:]
            ed.edit(t.line, t.cut, len(ed.lines[t.line]), "")  # the editor deletes the statement's end
            p.requests.append(await ed.ask(t.line, t.cut, "jump", t.name))
            for i, ch in enumerate(tail):
                ed.edit(t.line, t.cut + i, t.cut + i, ch)
                p.requests.append(await ed.ask(t.line, t.cut + i + 1, "type", t.name))
        assert ed.text() == source, "the replay must leave the file as it found it"
        p.peak_rss_mib = round(peak_rss_mib(proc.pid), 1)
        p.loadavg = f"{start_load} -> {_loadavg()}"
        await asyncio.wait_for(client.shutdown_async(None), 30)
        client.exit(None)
        await asyncio.wait_for(client.stop(), 30)
    except BaseException:
        await asyncio.sleep(0.5)  # let the drain catch the server's last words
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        print(f"the server failed; the end of its stderr:\n{tail}", file=sys.stderr)
        raise
    finally:
        if proc.returncode is None:
            proc.kill()
        drain.cancel()
        shutil.rmtree(root, ignore_errors=True)
    return p


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


async def _drain(stream, path: Path) -> None:
    with open(path, "wb") as f:
        while chunk := await stream.read(1 << 16):
            f.write(chunk)


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile: an observed latency, never an interpolation."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def summary(p: Pass) -> dict:
    reqs = p.requests
    model = [r.ms for r in reqs if not r.cached and r.kind != "cold"]
    hits = [r.ms for r in reqs if r.cached]
    jumps = [r.ms for r in reqs if r.kind == "jump"]
    cold = next((r.ms for r in reqs if r.kind == "cold"), float("nan"))
    return {
        "requests": len(reqs), "answered": sum(r.answered for r in reqs), "null": sum(not r.answered for r in reqs),
        "model_calls": len(model), "model_p50_ms": pct(model, 0.5), "model_p95_ms": pct(model, 0.95),
        "cache_hits": len(hits), "cache_p50_ms": pct(hits, 0.5), "cache_p95_ms": pct(hits, 0.95),
        "fast_answers": sum(r.ms < FAST_MS for r in reqs),
        "fast_but_not_hits": sum(r.ms < FAST_MS and not r.cached for r in reqs),
        "jump_ms": jumps, "jump_p50_ms": pct(jumps, 0.5), "cold_first_ms": cold,
        "load_s": p.load_s, "peak_rss_mib": p.peak_rss_mib, "loadavg": p.loadavg,
    }


def table(passes: list[Pass]) -> str:
    rows = [("", *[p.name for p in passes])]
    s = [summary(p) for p in passes]
    f = lambda v: "n/a" if isinstance(v, float) and math.isnan(v) else (f"{v:.0f}" if isinstance(v, float) else str(v))  # noqa: E731
    for label, key in [("requests (incl. null)", "requests"), ("answered / null", None), ("model calls", "model_calls"),
                       ("model call p50 ms", "model_p50_ms"), ("model call p95 ms", "model_p95_ms"),
                       ("type-ahead hits", "cache_hits"), ("type-ahead p50 ms", "cache_p50_ms"),
                       (f"answers < {FAST_MS:.0f} ms (not hits)", None), ("first after jump p50 ms", "jump_p50_ms"),
                       ("first after each jump ms", None), ("cold first completion ms", "cold_first_ms"),
                       ("load to ready s", "load_s"), ("server peak RSS MiB (VmHWM)", "peak_rss_mib"),
                       ("machine load avg, start -> end", "loadavg")]:
        if label.startswith("answered"):
            vals = [f"{x['answered']} / {x['null']}" for x in s]
        elif label.startswith("answers <"):
            vals = [f"{x['fast_answers']} ({x['fast_but_not_hits']})" for x in s]
        elif label.startswith("first after each"):
            vals = [" ".join(f(v) for v in x["jump_ms"]) for x in s]
        else:
            vals = [f(x[key]) for x in s]
        rows.append((label, *vals))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def setting(spec: str) -> dict:
    """`completion.debounceMs=0` -> {"completion": {"debounceMs": 0}} (the value read as JSON if it parses)."""
    key, _, raw = spec.partition("=")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    out: dict = {}
    node = out
    *parents, leaf = key.split(".")
    for k in parents:
        node = node.setdefault(k, {})
    node[leaf] = value
    return out


def merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keystrokes", type=int, default=60, help="requests after the cold one (deletes included)")
    ap.add_argument("--burst", type=int, default=12, help="characters retyped per burst")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file", type=Path, default=Path(argparse.__file__), help="a Python file of > 1,000 lines")
    ap.add_argument("--server-cmd", default=shlex.join([str(Path(sys.executable).with_name("wingman")), "serve"]))
    ap.add_argument("--baseline", action="append", default=None, metavar="KEY=VALUE",
                    help="settings of the baseline pass (repeatable; default completion.debounceMs=0)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="settings for every pass (repeatable), e.g. diagnostics.enabled=false")
    ap.add_argument("--llamacpp", action="store_true",
                    help="add a pass with the remote backend on a llama-server (base GGUF, 2 threads; make llamacpp)")
    ap.add_argument("--json", type=Path, help="write every request and the summaries here")
    args = ap.parse_args(argv)

    source = args.file.read_text()
    if source.count("\n") < 1000:
        ap.error(f"{args.file} has {source.count(chr(10))} lines; the replay wants a file of > 1,000")
    targets = pick_targets(source, args.keystrokes, args.burst, args.seed)
    base = {"telemetry": {"enabled": False}}  # a bench must not add to the user's local counts
    for spec in args.set:
        base = merge(base, setting(spec))
    passes = [Pass("default", base)]
    if not args.no_baseline:
        specs = args.baseline or ["completion.debounceMs=0"]
        settings = base
        for spec in specs:
            settings = merge(settings, setting(spec))
        passes.append(Pass("baseline: " + ", ".join(specs), settings))
    cmd = shlex.split(args.server_cmd)
    stack = contextlib.ExitStack()
    if args.llamacpp:
        from model.llamacpp import LlamaServer, base_gguf

        # The base model without the adapter, prefix-only: a different model, the same path through
        # the server; it shows what the engine costs against llama.cpp's.
        url = stack.enter_context(LlamaServer(base_gguf(), threads=2))
        passes.append(Pass("llama-server (base, remote)", merge(base, {"model": {"backend": "remote", "remoteUrl": url}})))
    print(f"CPU: {cpu_features()}")
    print(f"server: {args.server_cmd}; file: {args.file} ({source.count(chr(10))} lines); seed {args.seed}")
    print(f"settings of every pass: {json.dumps(base)}")
    print("targets: " + ", ".join(f"{t.name} (line {t.line + 1})" for t in targets))
    with stack:
        for p in passes:
            print(f"pass {p.name!r} ...", flush=True)
            asyncio.run(run_pass(p, cmd, source, targets))
    print()
    print(f"CPU: {cpu_features()}")
    print(table(passes))
    print(f"Model calls exclude the cold request and type-ahead hits; every request is counted, null answers "
          f"included. Hits are predicted by mirroring server/cache.py; '< {FAST_MS:.0f} ms (not hits)' cross-checks.")
    if args.json:
        args.json.write_text(json.dumps({
            "cpu": cpu_features(), "server_cmd": args.server_cmd, "file": str(args.file), "seed": args.seed,
            "targets": [asdict(t) for t in targets],
            "passes": [{"name": p.name, "settings": p.settings, "summary": summary(p),
                        "requests": [asdict(r) for r in p.requests]} for p in passes]}, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
