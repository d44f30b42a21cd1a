"""wingman.generateTests [uri, position]: pytest tests for the Python function at the cursor.

Written to `tests/test_<module>.py` under the workspace folder: created, or appended to (never
overwritten), with an import of the function that works from there. With
`actions.runGeneratedTests`, the tests first run in a sandbox (server/tasks/sandbox.py) and only
the passing ones are kept; the message says how many were dropped.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server import edits
from server.features.commands import GENERATE_TESTS, position_args
from server.generation import apply, generate, not_ready, show, tell
from model.tasks import prompts, pysource, testgen
from model.sandbox import pytest_run as sandbox

if TYPE_CHECKING:
    from server.server import WingmanServer


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
        reply = await generate(ls, f"Wingman: tests for {fn.name}", prompts.tests(fn.source, fn.name, module),
                               language="python")
        if reply is None:
            return None
        tests = testgen.parse_reply(prompts.extract_code(reply, "python"), module)
        if not tests.functions:
            tell(ls, f"Wingman: the model wrote no usable tests for {fn.name}.", types.MessageType.Warning)
            return {"applied": False, "written": 0, "dropped": 0}

        path = testgen.test_path(workspace_root(ls, snap.path), snap.path)
        dropped, note = 0, ""
        if ls.settings.actions.run_generated_tests:
            full = testgen.render(None, tests, path, snap.path, import_name)
            result = await asyncio.to_thread(
                sandbox.run_tests, full, snap.path, snap.text, ls.settings.actions.test_timeout_s)
            if result.error:
                tell(ls, f"Wingman: could not run the generated tests ({result.error}); none kept.",
                     types.MessageType.Warning)
                return {"applied": False, "written": 0, "dropped": len(tests.functions), "error": result.error}
            keep = set(result.passed)
            dropped = len(tests.functions) - len([f for f in tests.functions if f[0] in keep])
            tests.functions = [f for f in tests.functions if f[0] in keep]
            note = f" ({dropped} dropped: failing in the sandbox — {', '.join(result.enforced)})" if dropped else ""
            if not tests.functions:
                tell(ls, f"Wingman: none of the {dropped} generated tests passed; nothing written.",
                     types.MessageType.Warning)
                return {"applied": False, "written": 0, "dropped": dropped}

        test_uri = edits.path_to_uri(path)
        open_doc = ls.snapshot(test_uri)
        if open_doc is not None:
            text = testgen.render(open_doc.text, tests, path, snap.path, import_name)
            edit = edits.append_to_file(ls, test_uri, open_doc.text, open_doc.version, text)
        elif path.exists():
            current = path.read_text(encoding="utf-8", errors="replace")
            text = testgen.render(current, tests, path, snap.path, import_name)
            edit = edits.append_to_file(ls, test_uri, current, None, text)
        else:
            text = testgen.render(None, tests, path, snap.path, import_name)
            if not ls.client_can_create_files:
                return {"applied": False, "uri": test_uri, "text": text, "written": len(tests.functions),
                        "dropped": dropped}
            edit = edits.create_file(test_uri, text)
        applied = await apply(ls, edit, f"Tests for {fn.name}")
        if applied:
            tell(ls, f"Wingman wrote {len(tests.functions)} tests for {fn.name} to {path.name}{note}.")
            await show(ls, test_uri)
        return {"applied": applied, "uri": test_uri, "text": text, "written": len(tests.functions), "dropped": dropped}
