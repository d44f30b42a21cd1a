"""Inputs for a Python function, gathered without running it: the calls whose results become a
test's expected values (model/tasks/oracles.py runs them in the sandbox) and a translation's
differential runs.

Sources, in this order, deduplicated, within a time budget:
- "docstring": the docstring's doctests (`>>> f(1, 2)`) and examples written as `f(1, 2) == 3` or
  `f(1, 2) -> 3`; the claimed result is kept in `Call.expected` (a disagreement is a likely bug);
- "boundary": per parameter, values of the type its hint, default or use in the body suggests —
  empty, zero, one, negative, and the constants the body compares against (c - 1, c, c + 1) —
  varied one parameter at a time around a typical call;
- "model": calls a model proposed (test code or bare calls), parsed with `ast` and kept only when
  every argument is a literal: nothing from a model is evaluated here;
- "hypothesis": values hypothesis draws from the type hints, seeded.

Nothing here executes the function, a default or an annotation: hints are read from the AST
through a whitelist of builtin and `typing` names.
"""

from __future__ import annotations

import ast
import collections.abc
import doctest
import itertools
import math
import random
import re
import time
import typing
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_CALLS = 60
MAX_REPR = 300  # characters: longer values make unreadable tests
PER_ORIGIN = {"docstring": 40, "boundary": 40, "model": 20, "hypothesis": 20}


@dataclass(frozen=True)
class Call:
    args: tuple
    kwargs: dict = field(default_factory=dict)
    origin: str = "boundary"  # "docstring", "boundary", "hypothesis", "model"
    expected: str | None = field(default=None, compare=False)  # the docstring's claimed result (source text)

    def key(self) -> str:
        """Identity for deduplication: 1, 1.0 and True stay distinct."""
        return _typed_repr((self.args, sorted(self.kwargs.items())))

    def __hash__(self) -> int:
        return hash(self.key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Call) and self.key() == other.key()

    def render(self, name: str) -> str:
        parts = [literal(a) or repr(a) for a in self.args]
        parts += [f"{k}={literal(v) or repr(v)}" for k, v in self.kwargs.items()]
        return f"{name}({', '.join(parts)})"


def _typed_repr(value) -> str:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(map(_typed_repr, value)) if isinstance(value, (set, frozenset)) else map(_typed_repr, value)
        return f"{type(value).__name__}[{','.join(items)}]"
    if isinstance(value, dict):
        return "dict{" + ",".join(f"{_typed_repr(k)}:{_typed_repr(v)}" for k, v in value.items()) + "}"
    return f"{type(value).__name__}:{value!r}"


def literal(value, depth: int = 0) -> str | None:
    """Python source that evaluates to `value`, or None when it has no literal form (an object,
    a generator, a recursive list)."""
    if depth > 20:
        return None
    if value is None or isinstance(value, (bool, int, str, bytes)):
        return repr(value)
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else '-float("inf")'
        return repr(value)
    if isinstance(value, complex):
        return repr(value) if all(map(math.isfinite, (value.real, value.imag))) else None
    if isinstance(value, (list, tuple, set, frozenset)):
        if type(value) not in (list, tuple, set, frozenset):
            return None  # a subclass (namedtuple...) would lose its type
        items = [literal(v, depth + 1) for v in value]
        if any(i is None for i in items):
            return None
        if isinstance(value, (set, frozenset)):
            items.sort()
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        if isinstance(value, tuple):
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        body = "{" + ", ".join(items) + "}" if items else "set()"
        return body if isinstance(value, set) else f"frozenset({body if items else ''})"
    if type(value) is dict:
        pairs = [(literal(k, depth + 1), literal(v, depth + 1)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    return None


# ---------------------------------------------------------------- finding the function


def find_function(tree: ast.Module, qualname: str) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, ast.ClassDef | None] | None:
    """The def named by `qualname` ("mean", "Stack.push") and its class, if a method."""
    parts = qualname.split(".")
    body, cls = tree.body, None
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        for st in body:
            if last and isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == part:
                return st, cls
            if not last and isinstance(st, (ast.ClassDef, ast.FunctionDef)) and st.name == part:
                body, cls = st.body, st if isinstance(st, ast.ClassDef) else cls
                break
        else:
            return None
    return None


@dataclass
class Param:
    name: str
    kind: str  # "pos", "kwonly", "star", "starstar"
    hint: ast.AST | None
    default: ast.AST | None


def parameters(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[Param]:
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    out = [Param(p.arg, "pos", p.annotation, d) for p, d in zip(pos, defaults)]
    is_static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not is_static and out:
        out = out[1:]  # self / cls
    if a.vararg:
        out.append(Param(a.vararg.arg, "star", a.vararg.annotation, None))
    out += [Param(p.arg, "kwonly", p.annotation, d) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg:
        out.append(Param(a.kwarg.arg, "starstar", a.kwarg.annotation, None))
    return out


# ---------------------------------------------------------------- literal calls from text


def _literal(node: ast.AST):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT


_NOT = object()


def _call_of(node: ast.AST, names: set[str], origin: str, expected: str | None = None) -> Call | None:
    if not isinstance(node, ast.Call):
        return None
    f = node.func
    called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    if called not in names:
        return None
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return None
    args = [_literal(a) for a in node.args]
    kwargs = {k.arg: _literal(k.value) for k in node.keywords}
    if any(v is _NOT for v in args) or any(v is _NOT for v in kwargs.values()):
        return None
    return Call(tuple(args), kwargs, origin, expected)


def calls_in_code(code: str, name: str, origin: str = "model") -> list[Call]:
    """Literal calls of `name` in code (a model's tests, bare calls one a line); the code is
    parsed, never run. A reply cut off mid-way keeps its complete lines."""
    names = {name.split(".")[-1]}
    tree = None
    lines = code.split("\n")
    while lines and tree is None:
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            lines = lines[:-1]
    if tree is None:
        return []
    out = []
    for node in ast.walk(tree):
        c = _call_of(node, names, origin)
        if c is not None:
            out.append(c)
    return out


def docstring_calls(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> list[Call]:
    """Doctests, then `f(...) == v` / `f(...) -> v` / `f(...) returns v` examples in prose."""
    doc = ast.get_docstring(fn) or ""
    names = {name}
    out: list[Call] = []
    try:
        examples = doctest.DocTestParser().get_examples(doc)
    except ValueError:
        examples = []
    for ex in examples:
        try:
            tree = ast.parse(ex.source)
        except SyntaxError:
            continue
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            # doctest's `want` runs to the next blank line: a prose example right below is not part of it.
            want_lines = []
            for line in ex.want.strip().splitlines():
                if re.search(rf"\b{re.escape(name)}\(", line):
                    break
                want_lines.append(line)
            want = "\n".join(want_lines).strip() or None
            if ex.exc_msg is not None:
                want = "raise " + ex.exc_msg.split(":")[0].strip().split(".")[-1]
            c = _call_of(tree.body[0].value, names, "docstring", want)
            if c is not None:
                out.append(c)
    prose = "\n".join(line for line in doc.splitlines() if not line.strip().startswith(("...", ">>>")))
    for m in re.finditer(rf"\b{re.escape(name)}\(", prose):
        text = prose[m.start():]
        c = _prose_example(text, names)
        if c is not None:
            out.append(c)
    return out


def _prose_example(text: str, names: set[str]) -> Call | None:
    """`f(1, 2) == 3`, `f(1, 2) -> 3`, `f(1, 2) returns 3`, `f(1, 2) is 3`: the shortest
    parseable call, then a claimed result on the same line if one parses."""
    line = text.split("\n", 1)[0]
    for end in range(line.find("(") + 1, len(line) + 1):
        if line[end - 1] != ")":
            continue
        try:
            node = ast.parse(line[:end], mode="eval").body
        except SyntaxError:
            continue
        rest = line[end:].strip()
        m = re.match(r"(==|->|→|=>|returns|gives|is)\s*(.+)", rest)
        expected = None
        if m:
            claim = m.group(2).strip().rstrip(".;,")
            for cut in range(len(claim), 0, -1):  # the longest prefix that is a literal
                try:
                    ast.literal_eval(claim[:cut].strip())
                    expected = claim[:cut].strip()
                    break
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    continue
        return _call_of(node, names, "docstring", expected)
    return None


# ---------------------------------------------------------------- kinds of values

# A parameter's kind: "int", "float", "str", "bool", "bytes", "list[<kind>]", "tuple", "dict",
# "set", "none", "any".
_STR_METHODS = {"split", "strip", "lstrip", "rstrip", "lower", "upper", "startswith", "endswith", "replace",
                "join", "find", "isdigit", "isalpha", "isspace", "title", "capitalize", "encode", "splitlines",
                "format", "casefold", "partition", "rpartition", "zfill", "center", "ljust", "rjust", "isupper",
                "islower", "isalnum", "rfind", "swapcase", "expandtabs", "removeprefix", "removesuffix"}
_LIST_METHODS = {"append", "extend", "pop", "insert", "sort", "reverse", "index", "remove"}
_DICT_METHODS = {"keys", "items", "values", "get", "setdefault", "update"}
_INT_NAMES = re.compile(r"^(n|k|m|i|j|x|y|num|number|count|size|length|width|height|index|idx|limit|depth|"
                        r"level|start|stop|end|step|base|times|digits|places|amount|total|year|month|day|"
                        r"min\w*|max\w*|lo|hi|low|high|offset|pos|position|n_\w+|num_\w+|\w+_count)$")
_STR_NAMES = re.compile(r"^(s|string|text|word|name|char|c|ch|line|prefix|suffix|sep|separator|delimiter|"
                        r"pattern|key|label|title|path|filename|url|msg|message|sentence|value_str|\w+_name|"
                        r"\w+_str|\w+_text|camel\w*|snake\w*|plural|singular)$")
_STR_LIST_NAMES = re.compile(r"^(words|names|strings|lines|keys|labels|tokens|parts|chars|items_str)$")
_LIST_NAMES = re.compile(r"^(values|items|nums|numbers|xs|ys|lst|list_|arr|array|seq|sequence|data|elements|"
                         r"iterable|collection|scores|prices|ints|floats|vals|\w+s)$")


def _hint_kind(hint: ast.AST | None) -> str | None:
    if hint is None:
        return None
    if isinstance(hint, ast.Constant) and isinstance(hint.value, str):
        try:
            hint = ast.parse(hint.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(hint, ast.Constant) and hint.value is None:
        return "none"
    if isinstance(hint, ast.BinOp) and isinstance(hint.op, ast.BitOr):  # X | None
        left, right = _hint_kind(hint.left), _hint_kind(hint.right)
        return left if right == "none" else right if left == "none" else left
    name = hint.id if isinstance(hint, ast.Name) else hint.attr if isinstance(hint, ast.Attribute) else None
    if name is not None:
        return {"int": "int", "float": "float", "str": "str", "bool": "bool", "bytes": "bytes", "list": "list[int]",
                "List": "list[int]", "Sequence": "list[int]", "Iterable": "list[int]", "tuple": "tuple",
                "Tuple": "tuple", "dict": "dict", "Dict": "dict", "Mapping": "dict", "set": "set", "Set": "set",
                "frozenset": "set", "complex": "float", "Number": "float"}.get(name, "any")
    if isinstance(hint, ast.Subscript):
        outer = _hint_kind(hint.value)
        inner = hint.slice
        if isinstance(hint.value, (ast.Name, ast.Attribute)):
            base = hint.value.id if isinstance(hint.value, ast.Name) else hint.value.attr
            if base == "Optional":
                return _hint_kind(inner)
            if base == "Union" and isinstance(inner, ast.Tuple):
                kinds = [k for k in map(_hint_kind, inner.elts) if k != "none"]
                return kinds[0] if kinds else "none"
        if outer and outer.startswith("list"):
            el = _hint_kind(inner) or "int"
            return f"list[{el}]" if not el.startswith("list") else "list[int]"
        return outer
    return None


def _infer_kind(p: Param, fn: ast.AST, compared: dict[str, list]) -> str:
    kind = _hint_kind(p.hint)
    if kind and kind != "any":
        return kind
    if p.default is not None:
        v = _literal(p.default)
        if v is not _NOT and v is not None:
            k = _value_kind(v)
            if k:
                return k
    uses = {"str": 0, "list": 0, "dict": 0, "num": 0, "float": 0}
    elem_str = False
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == p.name:
            uses["str"] += node.attr in _STR_METHODS
            uses["list"] += node.attr in _LIST_METHODS
            uses["dict"] += node.attr in _DICT_METHODS
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args \
                and isinstance(node.args[0], ast.Name) and node.args[0].id == p.name:
            f = node.func.id
            uses["list"] += f in {"len", "sorted", "sum", "max", "min", "enumerate", "reversed", "list", "set",
                                  "tuple", "zip", "any", "all", "iter", "filter", "map"}
            uses["num"] += f in {"range", "abs", "int", "bin", "hex", "round", "divmod", "chr", "pow"}
            uses["float"] += f in {"float", "math.sqrt"}
            uses["str"] += f in {"ord"}
        elif isinstance(node, ast.For) and isinstance(node.iter, ast.Name) and node.iter.id == p.name:
            uses["list"] += 1
            if isinstance(node.target, ast.Name):
                el = node.target.id
                elem_str = elem_str or any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                                           and n.value.id == el and n.attr in _STR_METHODS for n in ast.walk(node))
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == p.name:
            uses["list"] += 1
        elif isinstance(node, ast.BinOp) and any(isinstance(s, ast.Name) and s.id == p.name
                                                 for s in (node.left, node.right)):
            other = node.right if isinstance(node.left, ast.Name) and node.left.id == p.name else node.left
            if isinstance(other, ast.Constant) and isinstance(other.value, str) and not isinstance(node.op, ast.Mod):
                uses["str"] += 1
            elif isinstance(other, ast.Constant) and isinstance(other.value, float):
                uses["float"] += 1
            elif not isinstance(node.op, ast.Mod) or not isinstance(node.left, ast.Constant):
                uses["num"] += 1
    for v in compared.get(p.name, []):
        if isinstance(v, str):
            uses["str"] += 1
        elif isinstance(v, float):
            uses["float"] += 1
        elif isinstance(v, int) and not isinstance(v, bool):
            uses["num"] += 1
    if max(uses.values()) == 0:
        if _STR_LIST_NAMES.match(p.name):
            return "list[str]"
        if _INT_NAMES.match(p.name):
            return "int"
        if _STR_NAMES.match(p.name):
            return "str"
        if _LIST_NAMES.match(p.name):
            return "list[int]"
        return "int"
    best = max(uses, key=lambda k: (uses[k], k == "str"))
    if best == "list":
        return "list[str]" if elem_str or _STR_LIST_NAMES.match(p.name) else "list[int]"
    return {"num": "int", "float": "float"}.get(best, best)


def _value_kind(v) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, bytes):
        return "bytes"
    if isinstance(v, (list, tuple)):
        el = _value_kind(v[0]) if v else "int"
        return "tuple" if isinstance(v, tuple) else f"list[{el if el in ('int', 'str', 'float') else 'int'}]"
    if isinstance(v, dict):
        return "dict"
    if isinstance(v, (set, frozenset)):
        return "set"
    return None


def _constants(fn: ast.AST) -> tuple[dict[str, list], list]:
    """(parameter name -> constants it is compared with, every constant in the body)."""
    compared: dict[str, list] = {}
    every = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            names = [s.id for s in sides if isinstance(s, ast.Name)]
            names += [s.args[0].id for s in sides if isinstance(s, ast.Call) and isinstance(s.func, ast.Name)
                      and s.func.id == "len" and s.args and isinstance(s.args[0], ast.Name)]
            consts = [s.value for s in sides if isinstance(s, ast.Constant)]
            consts += [-s.operand.value for s in sides if isinstance(s, ast.UnaryOp) and isinstance(s.op, ast.USub)
                       and isinstance(s.operand, ast.Constant) and isinstance(s.operand.value, (int, float))]
            for n in names:
                compared.setdefault(n, []).extend(c for c in consts if not isinstance(c, type(None)))
        if isinstance(node, ast.Constant) and not isinstance(node.value, (type(None), type(...))) \
                and not (isinstance(node.value, str) and len(node.value) > 40):
            every.append(node.value)
    return compared, every


_TYPICAL = {"int": [3, 1, 10, 2, 7], "float": [2.5, 1.0, 10.0, 0.5], "str": ["hello world", "abc", "x-y", "Hello"],
            "list[int]": [[3, 1, 2], [1, 2, 3, 4], [5]], "list[str]": [["b", "a", "c"], ["x", "y"]]}


def _candidates(kind: str, consts: list, compared: list, rng: random.Random, position: int = 0) -> list:
    """Values for one parameter: the typical one first (differing by the parameter's position,
    so that f(value, low, high) is not first called as f(3, 3, 3))."""
    values = _candidates_of(kind, consts, compared, rng)
    typical = _TYPICAL.get(kind)
    if typical:
        first = typical[position % len(typical)]
        values = [first] + [v for v in values if v != first or type(v) is not type(first)]
    return values


def _candidates_of(kind: str, consts: list, compared: list, rng: random.Random) -> list:
    ints = sorted({c for c in consts + compared if isinstance(c, int) and not isinstance(c, bool) and abs(c) < 10**6})
    strs = [c for c in dict.fromkeys(consts + compared) if isinstance(c, str)][:6]
    if kind == "int":
        near = [v for c in ([c for c in compared if isinstance(c, int) and not isinstance(c, bool)] or ints)[:4]
                for v in (c - 1, c, c + 1)]
        return list(dict.fromkeys([3, 0, 1, -1, 2, 10, *near, 9, 11, 4, -7, 100]))
    if kind == "float":
        fl = [float(c) for c in consts + compared if isinstance(c, (int, float)) and not isinstance(c, bool)][:3]
        return list(dict.fromkeys([2.5, 0.0, 1.0, -1.5, 0.1, *fl, 100.0]))
    if kind == "str":
        words = [s for s in strs if s]
        return list(dict.fromkeys(["hello world", "", "a", "Hello", "abc", " x ", "123", "hello_world",
                                   "HelloWorld", *words, *(w + "abc" for w in words[:2]), "ab-cd ef"]))
    if kind == "bool":
        return [True, False]
    if kind == "bytes":
        return [b"abc", b"", b"\x00\xff"]
    if kind.startswith("list"):
        el = kind[5:-1] if "[" in kind else "int"
        if el == "str":
            words = [s for s in strs if s][:2]
            return [["b", "a", "c"], [], ["a"], ["a", "a"], ["hello", "world"], ["", "x"], [*words, "z"]]
        if el == "float":
            return [[1.5, 2.5, 3.0], [], [1.0], [-2.0, 0.5], [0.1, 0.2, 0.3]]
        near = [c for c in ints[:3]]
        return [[3, 1, 2], [], [1], [0], [-1, -5, 2], [2, 2, 2], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1],
                [rng.randint(-20, 20) for _ in range(6)], *([[*near, near[-1] + 1]] if near else [])]
    if kind == "tuple":
        return [(1, 2), (), (1,), (3, -1, 2)]
    if kind == "dict":
        return [{"a": 1, "b": 2}, {}, {"a": 1}, {"x": 0, "y": -1}]
    if kind == "set":
        return [{1, 2, 3}, set(), {0}]
    if kind == "none":
        return [None]
    return [3, "abc", [1, 2], None, 0, ""]


def boundary_calls(fn: ast.FunctionDef | ast.AsyncFunctionDef, params: list[Param], seed: int) -> list[Call]:
    """A typical call, then each parameter varied alone over its boundary values, then a few
    seeded mixes."""
    rng = random.Random(seed)
    compared, consts = _constants(fn)
    fixed = [p for p in params if p.kind in ("pos", "kwonly")]
    required = [p for p in fixed if p.default is None]
    options = {p.name: _candidates(_infer_kind(p, fn, compared), consts, compared.get(p.name, []), rng, i)
               for i, p in enumerate(fixed)}

    def make(values: dict) -> Call:
        # Required positionals by position; an optional one by keyword, so any may be given alone.
        args = tuple(values[p.name] for p in required if p.kind == "pos" and p.name in values)
        kwargs = {p.name: values[p.name] for p in fixed
                  if (p.kind == "kwonly" or p.default is not None) and p.name in values}
        return Call(args, kwargs, "boundary")

    base = {p.name: options[p.name][0] for p in required}
    out = [make(base)]
    for p in fixed:
        for v in options[p.name][1:] if p.default is None else options[p.name][:4]:
            out.append(make({**base, p.name: v}))
    star = next((p for p in params if p.kind == "star"), None)
    if star is not None:
        el = _hint_kind(star.hint) or "int"
        for extra in _candidates(el, consts, [], rng)[:3]:
            out.append(Call(make(base).args + (extra,), make(base).kwargs, "boundary"))
    for _ in range(6):
        out.append(make({p.name: rng.choice(options[p.name]) for p in required}))
    # Optional parameters mixed too: a branch may need two of them together (upper < lower).
    optional = [p for p in fixed if p.default is not None]
    for _ in range(6 if optional else 0):
        values = {p.name: rng.choice(options[p.name]) for p in required}
        values.update({p.name: rng.choice(options[p.name][:6]) for p in optional if rng.random() < 0.6})
        out.append(make(values))
    return out


# ---------------------------------------------------------------- hypothesis

_TYPING = {"int": int, "float": float, "str": str, "bool": bool, "bytes": bytes, "list": list, "dict": dict,
           "tuple": tuple, "set": set, "frozenset": frozenset, "List": typing.List, "Dict": typing.Dict,
           "Tuple": typing.Tuple, "Set": typing.Set, "Optional": typing.Optional, "Union": typing.Union,
           "Sequence": typing.Sequence, "Iterable": typing.Iterable, "Mapping": typing.Mapping}


def _hint_type(hint: ast.AST | None):
    """The type a hint names, built from the whitelist; None when it names anything else."""
    if hint is None:
        return None
    if isinstance(hint, ast.Constant):
        if hint.value is None:
            return type(None)
        if isinstance(hint.value, str):
            try:
                return _hint_type(ast.parse(hint.value, mode="eval").body)
            except SyntaxError:
                return None
        return None
    if isinstance(hint, ast.Name):
        return _TYPING.get(hint.id)
    if isinstance(hint, ast.Attribute) and isinstance(hint.value, ast.Name) and hint.value.id == "typing":
        return _TYPING.get(hint.attr)
    if isinstance(hint, ast.BinOp) and isinstance(hint.op, ast.BitOr):
        left, right = _hint_type(hint.left), _hint_type(hint.right)
        return typing.Union[left, right] if left is not None and right is not None else None
    if isinstance(hint, ast.Subscript):
        outer = _hint_type(hint.value)
        elts = hint.slice.elts if isinstance(hint.slice, ast.Tuple) else [hint.slice]
        if isinstance(hint.slice, ast.Tuple) and len(elts) == 2 and isinstance(elts[1], ast.Constant) \
                and elts[1].value is Ellipsis:
            inner = [_hint_type(elts[0]), ...]
        else:
            inner = [_hint_type(e) for e in elts]
        if outer is None or any(i is None for i in inner):
            return None
        if outer is list or outer is typing.List:
            outer = typing.List
        elif outer is dict:
            outer = typing.Dict
        elif outer is tuple:
            outer = typing.Tuple
        elif outer is set:
            outer = typing.Set
        try:
            return outer[tuple(inner)] if len(inner) > 1 else outer[inner[0]]
        except TypeError:
            return None
    return None


def hypothesis_calls(params: list[Param], n: int, seed: int, deadline: float) -> list[Call]:
    """Up to `n` calls drawn by hypothesis from the hints; () when a required parameter has no
    usable hint, or hypothesis is not installed."""
    fixed = [p for p in params if p.kind in ("pos", "kwonly") and p.default is None]
    types_ = {p.name: _hint_type(p.hint) for p in fixed}
    if not fixed or any(t is None for t in types_.values()) or time.monotonic() > deadline:
        return []
    try:
        from hypothesis import HealthCheck, Phase, given, settings, strategies as st
        from hypothesis import seed as hseed
    except ImportError:
        return []

    def small(t):
        """Small values: a test reads better with 42 than with 1419905681725152296960, and a
        factorial of it would not finish."""
        origin, args = typing.get_origin(t), typing.get_args(t)
        if t is int:
            return st.integers(-1000, 1000)
        if t is float:
            return st.floats(-1000, 1000, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3))
        if t is str:
            return st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
        if t is bytes:
            return st.binary(max_size=8)
        if t is bool or t is type(None):
            return st.from_type(t)
        if origin in (list, typing.Sequence, typing.Iterable, collections.abc.Sequence, collections.abc.Iterable) \
                or t in (list, typing.Sequence, typing.Iterable):
            return st.lists(small(args[0]) if args else st.integers(-20, 20), max_size=6)
        if origin in (set, frozenset) or t in (set, frozenset):
            return st.sets(small(args[0]) if args else st.integers(-20, 20), max_size=5)
        if origin in (dict, typing.Mapping, collections.abc.Mapping) or t in (dict, typing.Mapping):
            k, v = (small(args[0]), small(args[1])) if len(args) == 2 else (st.text(max_size=4), st.integers(-9, 9))
            return st.dictionaries(k, v, max_size=4)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return st.lists(small(args[0]), max_size=4).map(tuple)
            return st.tuples(*map(small, args)) if args else st.just(())
        if origin is typing.Union:
            return st.one_of(*map(small, args))
        return st.from_type(t).filter(lambda v: literal(v) is not None and len(literal(v) or "") <= 80)

    drawn: list[Call] = []
    try:
        strategy = st.fixed_dictionaries({name: small(t) for name, t in types_.items()})
    except Exception:  # noqa: BLE001 - a hint hypothesis cannot build gives no calls
        return []

    @hseed(seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(values):
        if time.monotonic() > deadline:
            return
        args = tuple(values[p.name] for p in fixed if p.kind == "pos")
        kwargs = {p.name: values[p.name] for p in fixed if p.kind == "kwonly"}
        drawn.append(Call(args, kwargs, "hypothesis"))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            collect()
        except Exception:  # noqa: BLE001 - an unbuildable strategy just gives no calls
            pass
    return drawn


# ---------------------------------------------------------------- all of them


def generate_inputs(source: str, qualname: str, *, budget_s: float = 2.0, proposals: Sequence[str] = (),
                    seed: int = 0) -> list[Call]:
    """Calls of `qualname` (a function, or a method "Class.name" without its instance), defined in
    `source` (its module, or just the def), in the order docstring, boundary, model, hypothesis,
    deduplicated, at most MAX_CALLS. Raises ValueError when `source` does not define it."""
    deadline = time.monotonic() + budget_s
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"the source does not parse: {exc.msg} (line {exc.lineno})") from None
    found = find_function(tree, qualname)
    if found is None:
        raise ValueError(f"no function {qualname} in the source")
    fn, cls = found
    params = parameters(fn, method=cls is not None)
    name = qualname.split(".")[-1]
    arity = _arity(params)
    groups: list[list[Call]] = [docstring_calls(fn, name), boundary_calls(fn, params, seed)]
    groups.append([c for text in proposals for c in calls_in_code(text, name, "model")])
    groups.append(hypothesis_calls(params, PER_ORIGIN["hypothesis"], seed, deadline))
    out: list[Call] = []
    seen: set[str] = set()
    for group in groups:
        taken = 0
        for c in group:
            if not arity(c) or taken >= PER_ORIGIN[c.origin]:
                continue
            if any(len(literal(v) or "x" * (MAX_REPR + 1)) > MAX_REPR for v in itertools.chain(c.args, c.kwargs.values())):
                continue
            k = c.key()
            if k in seen:
                continue
            seen.add(k)
            out.append(c)
            taken += 1
            if len(out) >= MAX_CALLS:
                return out
    return out


def _arity(params: list[Param]):
    """A check that a call binds to the signature (a model's call with three arguments to a
    two-argument function is dropped)."""
    pos = [p for p in params if p.kind == "pos"]
    need = sum(1 for p in pos if p.default is None)
    star = any(p.kind == "star" for p in params)
    starstar = any(p.kind == "starstar" for p in params)
    names = {p.name for p in params if p.kind in ("pos", "kwonly")}
    need_kw = {p.name for p in params if p.kind == "kwonly" and p.default is None}

    def ok(c: Call) -> bool:
        if len(c.args) > len(pos) and not star:
            return False
        given = {p.name for p in pos[: len(c.args)]}
        if given & set(c.kwargs):
            return False
        if not starstar and set(c.kwargs) - names:
            return False
        bound = given | set(c.kwargs)
        if any(p.name not in bound for p in pos[:need]):
            return False
        return need_kw <= bound

    return ok
