"""Code from a comment, checked: does a candidate parse, and do the examples its docstring or
comment gives hold? Used by wingman.codeFromComment (server/features/code_from_comment.py) to
prefer a passing candidate among several.

A Python candidate is checked inside the whole file as it would be after the edit: it must parse
(`ast`), and each example (`>>> f(2)` with its result, `f(2) == 4`, `f(2) -> 4`: model/tasks/
inputs.py reads them) runs in the sandbox against the new function, the result compared with
the claimed one as Python compares them (floats within 1e-9, NaN equal to NaN; "raise E" wants a
raise). Other languages: the file after the edit goes through the language's toolchain, counted
only when the file passed it before the edit (a file that never compiled says nothing).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from model.tasks import bridge_runtime, differential, toolchains
from model.tasks.inputs import Call, docstring_calls


@dataclass
class CodeCheck:
    parses: bool | None  # None: no check for this language here (the reason is in `note`)
    examples: int = 0
    passed: int = 0
    failures: list[str] = field(default_factory=list)  # "f(2): expected 4, got 5"
    note: str = ""

    @property
    def score(self) -> tuple:
        return (self.parses is not False, self.passed, self.examples == self.passed)

    @property
    def complete(self) -> bool:
        """Nothing better to look for: it parses and every example passes."""
        return self.parses is not False and self.passed == self.examples

    def describe(self) -> str:
        if self.parses is False:
            return f"does not parse ({self.note})" if self.note else "does not parse"
        parts = ["parses" if self.parses else (self.note or "not parsed")]
        if self.examples:
            parts.append(f"{self.passed} of {self.examples} examples pass")
            if self.failures:
                parts.append(f"first failing: {self.failures[0]}")
        else:
            parts.append("no examples to run")
        return ", ".join(parts)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool) or not all(isinstance(x, (int, float)) for x in (a, b)):
            return False
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b or (isinstance(a, int) and isinstance(b, int) and a == b)


def _claimed(text: str):
    """The example's claimed result as a value; (raises, name) for "raise E"; None when unreadable."""
    if text.startswith("raise "):
        return ("raise", text[6:].strip())
    try:
        return ("value", ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        if text in ("nan", "inf", "-inf"):
            return ("value", float(text))
        return None


def check_python(new_text: str, qualname: str | None, stub_function: ast.FunctionDef | None) -> CodeCheck:
    """`new_text`: the file after the edit; `stub_function`: the def the comment belongs to (its
    docstring's examples are run), or None for a free comment."""
    try:
        ast.parse(new_text)
    except SyntaxError as exc:
        return CodeCheck(False, note=f"{exc.msg}, line {exc.lineno}")
    if stub_function is None or qualname is None or "." in qualname:
        return CodeCheck(True, note="" if stub_function is None else "methods are not run")
    calls = [c for c in docstring_calls(stub_function, qualname) if c.expected]
    wanted = [(c, _claimed(c.expected)) for c in calls]
    wanted = [(c, w) for c, w in wanted if w is not None]
    if not wanted:
        return CodeCheck(True)
    run = differential.run_source(differential.module_slice(new_text), qualname, [c for c, _ in wanted], portable=False)
    result = CodeCheck(True, examples=len(wanted))
    if run.error:
        result.failures.append(run.error)
        return result
    # build_inputs drops duplicate calls: match rows by the shown call.
    by_call = {shown: row for shown, row in zip(run.shown, run.rows)}
    for c, (kind, claimed) in wanted:
        shown = c.render(qualname)
        row = by_call.get(shown)
        if row is None:
            result.failures.append(f"{shown}: no result")
            continue
        if kind == "raise":
            ok = not row["ok"] and row.get("error") == claimed
            got = f"raised {row.get('error')}" if not row["ok"] else f"returned {row.get('value')!r}"
        else:
            ok = row["ok"] and _same(bridge_runtime.decode(row["value"]), claimed)
            got = (f"{bridge_runtime.decode(row['value'])!r}" if row["ok"] else f"raised {row.get('error')}")
        if ok:
            result.passed += 1
        else:
            result.failures.append(f"{shown}: expected {c.expected}, got {got}")
    return result


def check_other(language: str, old_text: str, new_text: str) -> CodeCheck:
    why = toolchains.missing(language)
    if why is not None:
        return CodeCheck(None, note=f"not parsed: {why}")
    before = toolchains.check(language, old_text)
    if not before.ok:
        return CodeCheck(None, note=f"not parsed: the file fails {before.tool} before the edit too")
    after = toolchains.check(language, new_text)
    if after.ok:
        return CodeCheck(True)
    return CodeCheck(False, note=f"{after.tool}: {after.message}")


__all__ = ["Call", "CodeCheck", "check_other", "check_python"]
