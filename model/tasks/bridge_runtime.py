"""The JSON bridge, Python side: the wire encoding of values, and the harness that runs the source
function on the inputs. Standard library only: this file is copied into the sandbox as it is and
run there (`python bridge_runtime.py source.py qualname inputs.json results.jsonl`); the host
imports the same codec, so both ends agree by construction.

Wire values (what both harnesses write, see bridge_runtime.js for the JavaScript side):
- null, true/false, strings and arrays are plain JSON; finite numbers are JSON numbers;
- everything else is an object with a tag `$t`: {"$t": "tuple", "v": [...]}, {"$t": "set", "v": [...]},
  {"$t": "dict", "v": [[key, value], ...]} (every mapping: keys keep their type), {"$t": "nan"},
  {"$t": "inf", "sign": 1|-1}, {"$t": "bigint", "v": "123..."} (beyond 2**53), {"$t": "undefined"},
  {"$t": "bytes", "v": [...]}, {"$t": "opaque", "type": "..."} (a value with no JSON twin).
One result per input, one JSON line: {"i": n, "ok": true, "value": W, "args": [W, ...]} (the
arguments after the call: in-place functions mutate them) or {"i": n, "ok": false, "error": type,
"message": text}. The source's lines also carry "arcs": the (from, to) line pairs the function
ran, for branch coverage.
"""

from __future__ import annotations

import json
import math
import sys

SAFE_INT = 2 ** 53
MAX_DEPTH = 40


def encode(value, depth: int = 0):
    if depth > MAX_DEPTH:
        return {"$t": "opaque", "type": "deep"}
    d = depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) <= SAFE_INT else {"$t": "bigint", "v": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$t": "nan"}
        if math.isinf(value):
            return {"$t": "inf", "sign": 1 if value > 0 else -1}
        return value
    if isinstance(value, list):
        return [encode(v, d) for v in value]
    if isinstance(value, tuple):
        return {"$t": "tuple", "v": [encode(v, d) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$t": "set", "v": [encode(v, d) for v in value]}
    if isinstance(value, dict):
        return {"$t": "dict", "v": [[encode(k, d), encode(v, d)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"$t": "bytes", "v": list(value)}
    return {"$t": "opaque", "type": type(value).__name__}


def decode(wire):
    """A wire value as the Python value it stands for (opaque and undefined become None)."""
    if isinstance(wire, list):
        return [decode(v) for v in wire]
    if not isinstance(wire, dict):
        return wire
    t = wire.get("$t")
    if t == "tuple":
        return tuple(decode(v) for v in wire["v"])
    if t == "set":
        return {decode(v) for v in wire["v"]}
    if t == "dict":
        return {_hashable(decode(k)): decode(v) for k, v in wire["v"]}
    if t == "nan":
        return math.nan
    if t == "inf":
        return math.inf * wire["sign"]
    if t == "bigint":
        return int(wire["v"])
    if t == "bytes":
        return bytes(wire["v"])
    return None


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, list) else v


def _resolve(namespace: dict, qualname: str):
    obj = namespace[qualname.split(".")[0]]
    for part in qualname.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def main(argv: list[str]) -> int:
    import importlib.util

    source_path, qualname, inputs_path, results_path = argv[1:5]
    spec = importlib.util.spec_from_file_location("wingman_source", source_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = _resolve(vars(module), qualname)
    code = getattr(fn, "__code__", None)
    with open(inputs_path, encoding="utf-8") as f:
        inputs = json.load(f)
    arcs: set = set()
    last = [None]

    def tracer(frame, event, arg):
        if frame.f_code is not code:
            return None
        def local(frame, event, arg):
            if event == "line":
                arcs.add((last[0], frame.f_lineno))
                last[0] = frame.f_lineno
            elif event == "return":
                arcs.add((last[0], -1))
            return local
        last[0] = -frame.f_code.co_firstlineno  # entry, as coverage.py marks it
        return local

    with open(results_path, "a", encoding="utf-8") as out:
        for i, call in enumerate(inputs):
            args = [decode(a) for a in call["args"]]
            kwargs = {k: decode(v) for k, v in call.get("kwargs", {}).items()}
            arcs.clear()
            sys.settrace(tracer)
            try:
                value = fn(*args, **kwargs)
                row = {"i": i, "ok": True, "value": encode(value), "args": [encode(a) for a in args]}
            except Exception as exc:  # noqa: BLE001 - every raise is a result to compare
                row = {"i": i, "ok": False, "error": type(exc).__name__, "message": str(exc)[:200]}
            finally:
                sys.settrace(None)
            row["arcs"] = sorted([a, b] for a, b in arcs if a is not None)
            try:
                line = json.dumps(row, allow_nan=False)
            except (TypeError, ValueError):
                line = json.dumps({"i": i, "ok": True, "value": {"$t": "opaque", "type": "unencodable"},
                                   "args": [], "arcs": row["arcs"]})
            out.write(line + "\n")
            out.flush()  # a later input that hangs must not lose this one
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
