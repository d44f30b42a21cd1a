"""wingman.generateTests [uri, position]: pytest tests for the Python function (or method) at the
cursor, whose expected values come from running it.

The model proposes tests; their calls join the inputs that model/tasks/inputs.py makes, the real
function runs on all of them in the sandbox (model/tasks/verified.py), a few asserts that kill the
most mutants are kept, and the file is run once more by pytest in the sandbox: only tests that pass
there are written as verified, and the message gives the evidence ("5 tests, all passing; 11 of 13
mutants killed; 9 of 10 lines covered"). When a docstring example disagrees with the function, the
user is told of a likely bug and nothing is written. When the function cannot run there (its
import fails, it needs files or the network, its results change between runs), the model's own
tests are written, marked unverified in the file and in the message, with the reason. With
`actions.runGeneratedTests` off, the model's tests are written unverified, as before.

Written to `tests/test_<module>.py` under the workspace folder: created (on disk, whatever the
client does with the new buffer), or appended to (never overwritten). The sandbox work runs off the
inference worker, so completions never wait behind it; the model's part runs on the worker, which
answers a completion between two of its tokens (server/worker.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from model.tasks import prompts, pysource, testgen, verified
from server import edits
from server.features.commands import GENERATE_TESTS, position_args
from server.generation import apply, generate, not_ready, show, tell, write_new_file

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)

PROPOSAL_TOKENS = 384  # the model's reply: calls to try, and the fallback when the function cannot run
MAX_PROJECT_FILES = 400
MAX_PROJECT_BYTES = 4_000_000
SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "__pycache__", "site-packages", ".tox", ".mypy_cache",
             "build", "dist", ".eggs"}


def workspace_root(ls: "WingmanServer", path: str) -> Path:
    p = Path(path).resolve()
    folders = [Path(edits_path(f.uri)) for f in (ls.workspace.folders or {}).values()]
    if ls.workspace.root_path:
        folders.append(Path(ls.workspace.root_path))
    for folder in sorted(folders, key=lambda f: len(str(f)), reverse=True):
        folder = folder.resolve()
        if folder == p or folder in p.parents:
            return folder
    return p.parent


def edits_path(uri: str) -> str:
    from server.documents import uri_to_path

    return uri_to_path(uri)


def project_files(folder: Path, skip: Path) -> dict[str, str]:
    """The project's other Python files under the module's import root (relative path -> text), so
    its imports of them work in the sandbox; bounded, and without virtualenvs or build output."""
    out: dict[str, str] = {}
    size = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            p = Path(dirpath) / name
            if p.resolve() == skip.resolve():
                continue
            try:
                text = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            size += len(text)
            if len(out) >= MAX_PROJECT_FILES or size > MAX_PROJECT_BYTES:
                return out
            out[p.relative_to(folder).as_posix()] = text
    return out


def project_tests(root: Path, limit: int = 40) -> list[str]:
    """The project's own test files' text: how they import, and how they build instances."""
    out = []
    for p in sorted((root / "tests").rglob("test_*.py")) if (root / "tests").is_dir() else []:
        try:
            out.append(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
        if len(out) >= limit:
            break
    return out


def import_lines(test_file: Path, source_path: str, import_name: str, tests: list[str]) -> list[str]:
    """Import the function the way the project's tests import its modules: plainly when they do
    (the project is installed, or pytest's pythonpath is set), else with a sys.path line that
    works from the tests folder."""
    _, module = pysource.import_root(source_path)
    top = module.split(".")[0]
    plain = any(re.search(rf"^\s*(from\s+{re.escape(top)}[\s.]|import\s+{re.escape(top)}\b)", t, re.M)
                and "sys.path" not in t for t in tests)
    if plain:
        return [f"from {module} import {import_name}"]
    setup, line = testgen.header(test_file, source_path, import_name)
    return [*setup[:2], setup[-1], line]


def interpreter(ls: "WingmanServer", root: Path) -> tuple[str | None, str]:
    """(the Python that runs the user's function, the sentence saying which it was): the
    project's own (configured, or a .venv in the workspace: model/sandbox/interpreter.py), so
    that its dependencies import, else Wingman's."""
    from model import sandbox

    configured = getattr(ls.settings.actions, "python", None) or None
    try:
        found = sandbox.interpreter(root, configured)
    except ValueError as exc:  # a configured path that is not an interpreter: say so, use ours
        tell(ls, f"Wingman: {exc}; using Wingman's own Python.", types.MessageType.Warning)
        found = sandbox.interpreter(None, None)
    return found.path, found.sentence


def _not_enforced(enforced: Any) -> str:
    """The sentence naming the sandbox guarantees this machine could not give, or ""."""
    from model import sandbox

    return sandbox.missing_sentence(enforced) if isinstance(enforced, dict) else ""


def register(server: "WingmanServer") -> None:
    @server.command(GENERATE_TESTS)
    async def generate_tests(ls, *args: Any) -> dict | None:
        uri, pos = position_args(args)
        snap = ls.snapshot(uri)
        if snap is None or not ls.servable(snap) or not_ready(ls):
            return None
        if snap.language_id != "python":
            tell(ls, "Wingman: test generation is for Python functions.")
            return None
        fn = pysource.function_at(snap.text, snap.offset(pos.line, pos.character))
        if fn is None:
            tell(ls, "Wingman: put the cursor inside a Python function (and check the file parses).")
            return None
        import_name = fn.name.split(".")[0]
        _, module = pysource.import_root(snap.path)
        root = workspace_root(ls, snap.path)
        path = testgen.test_path(root, snap.path)
        reply = await generate(ls, f"Wingman: tests for {fn.name}", prompts.tests(fn.source, fn.name, module),
                               max_tokens=PROPOSAL_TOKENS, language="python")
        if reply is None:
            return None
        code = prompts.extract_code(reply, "python")
        model_tests = testgen.parse_reply(code, module)

        test_uri = edits.path_to_uri(path)
        open_doc = ls.snapshot(test_uri)
        current = open_doc.text if open_doc is not None else (
            path.read_text(encoding="utf-8", errors="replace") if path.exists() else None)

        why = "verification is off (actions.runGeneratedTests)"
        result = None
        if ls.settings.actions.run_generated_tests:
            own_tests = project_tests(root)
            folder, _ = pysource.import_root(snap.path)
            python, python_label = interpreter(ls, root)
            progress = await ls.begin_progress(f"Wingman: checking tests for {fn.name}", "running it in a sandbox",
                                               cancellable=False)
            try:
                # Off the inference worker and off the event loop: a completion is never behind it.
                result = await asyncio.to_thread(
                    verified.generate, snap.text, module, fn.name, import_lines(path, snap.path, import_name, own_tests),
                    proposals=[code], project_files=project_files(folder, Path(snap.path)), project_tests=own_tests,
                    python=python, existing=current)
            except Exception as exc:  # noqa: BLE001 - tell the user, fall back, keep serving
                log.exception("verified test generation failed")
                result = verified.Result(False, reason=f"checking failed ({exc})")
            finally:
                progress.end("done")
            if result.bugs:
                bug = result.bugs[0]
                where = f" (line {bug.line})" if bug.line else ""
                tell(ls, f"Wingman: no tests written for {fn.name}: {bug.message()}{where}. Fix the code or the "
                         f"docstring, then generate again.", types.MessageType.Warning)
                return {"applied": False, "written": 0, "verified": False,
                        "likelyBugs": [{"call": b.call, "claimed": b.claimed, "actual": b.actual, "line": b.line}
                                       for b in result.bugs]}
            if result.verified:
                missing = _not_enforced(result.enforced)
                note = f" {python_label}" + (f" {missing}" if missing else "")
                applied = await _write(ls, test_uri, path, open_doc, current, result.text, f"Tests for {fn.name}")
                if applied:
                    tell(ls, f"Wingman wrote {verified.plural(len(result.tests), 'verified test')} for {fn.name} to "
                             f"{path.name}: {result.evidence()}.{note}")
                return {"applied": applied, "uri": test_uri, "text": result.text, "written": len(result.tests),
                        "verified": True, "evidence": result.evidence(), "mutants": result.mutants,
                        "killed": result.killed, "lines": result.lines, "covered": result.covered,
                        "dropped": result.dropped}
            why = f"could not run {fn.name}: {result.reason}"

        # The model's tests, unverified, and saying so in the file and the message.
        if not model_tests.functions:
            tell(ls, f"Wingman: no tests for {fn.name}: {why}, and the model wrote no usable tests.",
                 types.MessageType.Warning)
            return {"applied": False, "written": 0, "verified": False, "reason": why}
        text = testgen.render(current, model_tests, path, snap.path, import_name)
        text = _mark_unverified(text, fn.name, why, new=current is None)
        applied = await _write(ls, test_uri, path, open_doc, current, text, f"Unverified tests for {fn.name}")
        n = len(model_tests.functions)
        if applied:
            tell(ls, f"Wingman wrote {verified.plural(n, 'unverified test')} for {fn.name} to {path.name}: {why}. "
                     f"They were not run; check them before you trust them.", types.MessageType.Warning)
        return {"applied": applied, "uri": test_uri, "text": text, "written": n, "verified": False, "reason": why}


def _mark_unverified(text: str, name: str, why: str, new: bool) -> str:
    note = f"# UNVERIFIED: tests for {name} written by the model and not run ({why})."
    if new:
        head, _, rest = text.partition("\n\n")
        return f"{head}\n\n{note}\n{rest}"
    return text.replace("\n\n", f"\n\n{note}\n", 1) if text.startswith("\n") else f"\n{note}\n{text}"


async def _write(ls: "WingmanServer", test_uri: str, path: Path, open_doc, current: str | None, text: str,
                 label: str) -> bool:
    """Create the file, or append to it; on disk either way (an open buffer is the client's)."""
    if current is None:
        return await write_new_file(ls, test_uri, text, label)
    version = open_doc.version if open_doc is not None else None
    applied = await apply(ls, edits.append_to_file(ls, test_uri, current, version, text), label)
    if applied and open_doc is None:
        # A file no editor had open: the client may leave its new buffer unsaved, so write the
        # same text, only where the disk still holds what the edit was made against.
        try:
            if path.read_text(encoding="utf-8", errors="replace") == current:
                path.write_text(current + text, encoding="utf-8")
        except OSError as exc:
            log.warning("could not write %s: %s", path, exc)
    if applied:
        await show(ls, test_uri)
    return applied
