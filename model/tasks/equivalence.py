"""When a translation's result counts as the source's: the pinned equivalence rules.

Both sides arrive as wire values (model/tasks/bridge_runtime.py). `python` is what the source
returned, `other` what the candidate did. Each rule is tested on its own (tests/model/
test_equivalence.py); changing one changes what "verified" means, so they are pinned here:

1. int vs float: JavaScript has one number type, so a number equals an int or a float with the
   same value: ints exactly, floats within a relative 1e-9 (summation order may differ in the
   last bits; absolute 1e-12 near zero). A bool is not a number: True never equals 1.
   An int beyond 2**53 equals a JavaScript number only as the nearest double does.
2. tuple vs list: JSON has no tuple; a tuple equals an array with equal elements in order.
3. None vs null/undefined: None equals null and undefined (a function that returns nothing).
4. NaN equals NaN (the comparison is of behaviour, and `nan != nan` would fail every NaN result);
   infinities equal the same-signed infinity.
5. dict key order: mappings compare as sets of pairs, whatever the order. A JavaScript object's
   keys are strings, so a non-string Python key matches the key that is its JSON text
   (1 -> "1", True -> "true", None -> "null").
6. exceptions vs thrown errors: a raise in Python equals a throw in the target, whatever the
   types (ValueError and RangeError both mean "refused"); a raise against a value is a difference.
   Except a TypeError or AttributeError: the input does not fit the source's types (a list where
   it compares numbers), which a dynamically typed target does not check, so that input is not
   compared at all (it counts neither as agreement nor toward the minimum or the branches).
7. sets: a set equals a Set or an array with the same elements in any order.
8. anything opaque (a value with no JSON twin) equals nothing: it cannot be checked.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

SAFE_INT = 2 ** 53
ILL_TYPED = ("TypeError", "AttributeError")  # rule 6: such inputs are not compared
REL_TOL = 1e-9
ABS_TOL = 1e-12


def _tag(w) -> str | None:
    return w.get("$t") if isinstance(w, dict) else None


def _is_number(w) -> bool:
    return isinstance(w, (int, float)) and not isinstance(w, bool)


def _numbers_equal(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _key_text(w) -> str | None:
    """A Python key as the string a JavaScript object would hold (rule 5)."""
    if isinstance(w, str):
        return w
    if isinstance(w, bool) or w is None:
        return json.dumps(w)
    if _is_number(w):
        return str(w) if isinstance(w, int) or not float(w).is_integer() else str(int(w))
    return None


def equal(python, other) -> bool:
    tp, to = _tag(python), _tag(other)
    # 3. None vs null/undefined
    if python is None:
        return other is None or to == "undefined"
    # 8. opaque
    if tp == "opaque" or to == "opaque" or tp == "undefined":
        return False
    # 1. numbers
    if isinstance(python, bool) or isinstance(other, bool):
        return isinstance(python, bool) and isinstance(other, bool) and python == other
    if tp == "bigint":
        if to == "bigint":
            return python["v"] == other["v"]
        return _is_number(other) and float(int(python["v"])) == float(other)
    if _is_number(python):
        if to == "bigint":
            return float(python) == float(int(other["v"]))
        return _is_number(other) and _numbers_equal(python, other)
    # 4. NaN and infinities
    if tp == "nan":
        return to == "nan"
    if tp == "inf":
        return to == "inf" and python["sign"] == other["sign"]
    if isinstance(python, str):
        return isinstance(other, str) and python == other
    # 2. tuple vs list
    if isinstance(python, list) or tp == "tuple":
        items = python if isinstance(python, list) else python["v"]
        if not isinstance(other, list):
            return False
        return len(items) == len(other) and all(equal(a, b) for a, b in zip(items, other))
    # 7. sets
    if tp == "set":
        others = other["v"] if to == "set" else other if isinstance(other, list) else None
        return others is not None and _same_elements(python["v"], others)
    # 5. mappings
    if tp == "dict":
        if to != "dict":
            return False
        return _same_mapping(python["v"], other["v"])
    if tp == "bytes":
        return (to == "bytes" and python["v"] == other["v"]) or (isinstance(other, list) and python["v"] == other)
    return False


def _same_elements(a: list, b: list) -> bool:
    if len(a) != len(b):
        return False
    left = list(b)
    for x in a:
        for j, y in enumerate(left):
            if equal(x, y):
                del left[j]
                break
        else:
            return False
    return True


def _same_mapping(pairs: list, others: list) -> bool:
    if len(pairs) != len(others):
        return False
    left = list(others)
    for k, v in pairs:
        for j, (k2, v2) in enumerate(left):
            key_matches = equal(k, k2) or (isinstance(k2, str) and _key_text(k) == k2)
            if key_matches:
                if not equal(v, v2):
                    return False
                del left[j]
                break
        else:
            return False
    return True


@dataclass
class Outcome:
    """One input's verdict: agree, or why not (shown to the user for the first differing input)."""
    agree: bool
    comparable: bool = True  # False: the source's own result cannot be checked (opaque)
    reason: str = ""


def compare_rows(python: dict, other: dict | None) -> Outcome:
    """Compare one input's result rows (rule 6 for raises; the arguments too when the source
    returned None, so in-place functions are compared by what they did)."""
    if python.get("ok") and _tag(python.get("value")) == "opaque":
        return Outcome(False, comparable=False, reason="the source's result has no JSON form")
    if not python.get("ok") and python.get("error") in ILL_TYPED:
        return Outcome(False, comparable=False, reason="the input does not fit the source's types")
    if other is None:
        return Outcome(False, reason="no result (it crashed or ran out of time)")
    if not python["ok"]:
        if not other.get("ok", False):
            return Outcome(True)
        return Outcome(False, reason=f"Python raises {python['error']}, the translation returns {_show(other.get('value'))}")
    if not other.get("ok", False):
        return Outcome(False, reason=f"the translation throws {other.get('error')}: {other.get('message', '')}".strip())
    if not equal(python["value"], other.get("value")):
        return Outcome(False, reason=f"expected {_show(python['value'])}, got {_show(other.get('value'))}")
    if python["value"] is None and python.get("args"):
        after = other.get("args") or []
        if len(after) < len(python["args"]) or not all(equal(a, b) for a, b in zip(python["args"], after)):
            return Outcome(False, reason="the arguments differ after the call (an in-place change)")
    return Outcome(True)


def _show(w) -> str:
    return shown(w)


def shown(w, limit: int = 80) -> str:
    """A wire value as a short Python-like literal, for messages."""
    from model.tasks.bridge_runtime import decode

    t = _tag(w)
    if t == "undefined":
        text = "undefined"
    elif t == "opaque":
        text = f"<{w.get('type')}>"
    else:
        text = repr(decode(w))
    return text if len(text) <= limit else text[: limit - 1] + "…"
