"""Configuration trees: defaulted dataclasses read from JSON or YAML, checked field by field.

One implementation for the engine's options, the server's settings and the training steps'
configs. Values are converted by cattrs with strict scalar rules (a bool is only true/false, a
number is finite, an int is not 3.7), and each field is checked on its own, so one bad value is
reported by its dotted name and the valid choices while the rest still apply. Keys may be
camelCase (the LSP wire) or snake_case (YAML). Callers decide what a problem means: the server
shows it and keeps the current value, a training step refuses to start.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any

import cattrs


def option(default: Any = MISSING, *, help: str = "", choices: tuple | None = None, lo: float | None = None,
           hi: float | None = None, factory: Any = MISSING, wire: str = "") -> Any:
    """A dataclass field with its help text and limits (what CLI flags and docs are made from).
    `wire` renames the field on the wire (camelCase JSON and CLI flags)."""
    meta = {"help": help, "choices": choices, "lo": lo, "hi": hi, "wire": wire}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Problem:
    path: str  # dotted, as the user spelled the keys
    kind: str  # "unknown" | "invalid" | "not_object" | "rejected"
    value: Any = None
    expected: str = ""
    current: Any = None  # what is kept instead
    known: tuple[str, ...] = ()  # for "unknown": the field names that exist at that level


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def wire_name(f: dataclasses.Field) -> str:
    return f.metadata.get("wire") or camel(f.name)


class _Reject(ValueError):
    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


def _bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise _Reject("true or false")


def _int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise _Reject("an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)  # YAML and --set spellings
    raise _Reject("an integer")


def _float(value: Any, _: type) -> float:
    if isinstance(value, bool):
        raise _Reject("a number")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        try:
            out = float(value)  # YAML 1.1 reads `1e-4` as a string
        except ValueError:
            raise _Reject("a number") from None
    else:
        raise _Reject("a number")
    if not math.isfinite(out):
        raise _Reject("a finite number")
    return out


def _str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # `version: 1.0` in YAML
    raise _Reject("a string")


converter = cattrs.Converter()
converter.register_structure_hook(bool, _bool)
converter.register_structure_hook(int, _int)
converter.register_structure_hook(float, _float)
converter.register_structure_hook(str, _str)


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "an object"
    if type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (_describe(rest[0]) if len(rest) == 1 else "a value") + " or null"
    return getattr(hint, "__name__", str(hint))


def _convert(value: Any, hint: Any, meta: dict) -> Any:
    """The value converted to `hint` and within the field's limits; _Reject otherwise."""
    if is_dataclass(hint):
        raise _Reject("an object")
    try:
        out = converter.structure(value, hint)
    except _Reject as exc:
        raise _Reject(_describe(hint) if typing.get_origin(hint) else exc.expected) from None
    except Exception as exc:  # cattrs' own errors (a list of the wrong items, a dict with bad values)
        for leaf in _leaves(exc):
            if isinstance(leaf, _Reject):
                raise _Reject(f"{_describe(hint)} ({leaf.expected} inside)") from None
        raise _Reject(_describe(hint)) from None
    choices = meta.get("choices")
    if choices and out not in choices:
        raise _Reject("one of " + ", ".join(map(str, choices)))
    lo, hi = meta.get("lo"), meta.get("hi")
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        if (lo is not None and out < lo) or (hi is not None and out > hi):
            raise _Reject(f"{_describe(hint)} between {lo} and {hi}" if hi is not None else f"{_describe(hint)} of at least {lo}")
    return out


def _leaves(exc: BaseException):
    subs = getattr(exc, "exceptions", None)
    if not subs:
        yield exc
        return
    for sub in subs:
        yield from _leaves(sub)


def _list_item_class(hint: Any) -> type | None:
    if typing.get_origin(hint) is list:
        args = typing.get_args(hint)
        if args and is_dataclass(args[0]):
            return args[0]
    return None


def structure(cls: type, raw: Any, base: Any = None, prefix: str = "") -> tuple[Any, list[Problem]]:
    """`raw` (a mapping) applied over `base` (defaults when None), field by field.

    A field whose value is bad keeps its current value and yields a Problem. The object is then
    rebuilt, so `__post_init__` checks run; if they refuse the combination, the whole level keeps
    `base` and the refusal is one Problem ("rejected")."""
    problems: list[Problem] = []
    current = copy.deepcopy(base) if base is not None else None
    if raw is None:
        return (current if current is not None else cls()), problems
    if not isinstance(raw, dict):
        problems.append(Problem(prefix.rstrip(".") or "settings", "not_object", raw, "an object"))
        return (current if current is not None else cls()), problems
    hints = typing.get_type_hints(cls)
    by_key: dict[str, dataclasses.Field] = {}
    for f in fields(cls):
        by_key[f.name] = by_key[wire_name(f)] = f
    values: dict[str, Any] = {f.name: getattr(current, f.name) for f in fields(cls)} if current is not None else {}
    for key, value in raw.items():
        f = by_key.get(key) if isinstance(key, str) else None
        if f is None and isinstance(key, str):
            f = by_key.get(snake(key))
        dotted = f"{prefix}{key}"
        if f is None:
            problems.append(Problem(dotted, "unknown", value, known=tuple(sorted(x.name for x in fields(cls)))))
            continue
        hint = hints[f.name]
        old = values.get(f.name, _default(f))
        if is_dataclass(hint):
            if value is None:
                continue
            if not isinstance(value, dict):
                problems.append(Problem(dotted, "not_object", value, "an object", old))
                continue
            values[f.name], more = structure(hint, value, old if old is not MISSING else None, dotted + ".")
            problems += more
            continue
        item_cls = _list_item_class(hint)
        if item_cls is not None:
            if not isinstance(value, list):
                problems.append(Problem(dotted, "invalid", value, "a list", old))
                continue
            items, bad = [], False
            for i, item in enumerate(value):
                try:
                    built, more = structure(item_cls, item, None, f"{dotted}[{i}].")
                except ConfigTreeError as exc:
                    built, more = None, exc.problems
                problems += more
                bad = bad or bool(more)
                items.append(built)
            if not bad:
                values[f.name] = items
            continue
        if typing.get_origin(hint) is dict and isinstance(value, dict):
            key_hint, value_hint = typing.get_args(hint) or (str, Any)
            entries, bad = {}, False
            for k, v in value.items():
                try:
                    entries[_convert(k, key_hint, {})] = _convert(v, value_hint, {}) if value_hint is not Any else v
                except _Reject as exc:
                    problems.append(Problem(f"{dotted}.{k}", "invalid", v, exc.expected, None))
                    bad = True
            if not bad:
                values[f.name] = copy.deepcopy(entries)
            continue
        try:
            values[f.name] = copy.deepcopy(_convert(value, hint, dict(f.metadata)))
        except _Reject as exc:
            problems.append(Problem(dotted, "invalid", value, exc.expected, old))
    try:
        built = cls(**{k: v for k, v in values.items() if v is not MISSING})
    except (TypeError, ValueError) as exc:
        problems.append(Problem(prefix.rstrip(".") or cls.__name__, "rejected", None, str(exc), current))
        built = current if current is not None else None
        if built is None:
            raise ConfigTreeError(problems) from exc
    return built, problems


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return MISSING


class ConfigTreeError(ValueError):
    """A level without defaults that could not be built at all (a required field is bad)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.path}: {p.expected}" for p in problems))
        self.problems = problems


def unstructure(obj: Any) -> Any:
    """The tree as camelCase JSON (for `wingman.status` and docs)."""
    if is_dataclass(obj):
        return {wire_name(f): unstructure(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, list):
        return [unstructure(v) for v in obj]
    if isinstance(obj, dict):
        return {k: unstructure(v) for k, v in obj.items()}
    return copy.deepcopy(obj)
