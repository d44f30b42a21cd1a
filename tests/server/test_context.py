"""Repository context on the server: what reaches the engine (server/context.py, in process,
with a recording engine) and the workspace index's bounds and bad input (server/repo_index.py)."""

from __future__ import annotations

import asyncio
import os

import pytest

from model.fake import FakeEngine
from server.repo_index import RepoIndex
from server.server import create_server

SHAPES = 'def zorblax_area(points):\n    """Shoelace area."""\n    return 0.0\n'


class Recording(FakeEngine):
    def complete(self, request, cancel=None):
        self.requests = getattr(self, "requests", []) + [request]
        return super().complete(request, cancel)


def _server(settings: dict | None = None):
    ls = create_server()
    # The gate off: these tests are about what reaches the prompt (the gate has its own below).
    ls.apply_settings({"completion": {"debounceMs": 0, "gateThreshold": 0, **(settings or {})}}, initial=True)
    ls.host.engine, ls.host.state = Recording(completion="zorblax_area(p)\n"), "ready"
    return ls


@pytest.mark.parametrize("enabled", [True, False])
def test_a_name_defined_in_another_open_file_reaches_the_prompt(tmp_path, enabled):
    async def body():
        from server.suggest import Suggester

        ls = _server({"context": enabled})
        try:
            ls.documents.open((tmp_path / "shapes.py").as_uri(), "python", 1, SHAPES)
            ls.documents.open((tmp_path / "secrets.py").as_uri(), "python", 1, "def zorblax_key():\n    return 1\n")
            uri = (tmp_path / "app.py").as_uri()
            ls.documents.open(uri, "python", 1, "def total(ps):\n    return sum(zorb")
            s = await Suggester(ls).suggest(uri, 1, 19, invoked=True)
            assert s is not None and s.text == "zorblax_area(p)"
            (request,) = ls.host.engine.requests
            if enabled:
                paths = [p for p, _ in request.context]
                assert paths == ["shapes.py"]  # secrets*: private, never sent
                assert request.repo_path == "app.py" and "def zorblax_area" in request.context[0][1]
            else:
                assert request.context == ()
        finally:
            ls.worker.stop()

    asyncio.run(body())


def test_the_context_stays_while_typing_on_a_line(tmp_path):
    async def body():
        from server.suggest import Suggester

        ls = _server()
        try:
            ls.documents.open((tmp_path / "shapes.py").as_uri(), "python", 1, SHAPES)
            uri = (tmp_path / "app.py").as_uri()
            sug = Suggester(ls)
            text = "from shapes import zorblax_area\n\ndef total(ps):\n    a = zorblax_area(ps)\n    return "
            seen = []
            for typed in ("m", "ma", "max", "max("):
                ls.documents.open(uri, "python", 1, text + typed)
                cap = sug.contexts.capture(ls.documents.get(uri))
                seen.append(sug.contexts.select(cap, len(text + typed), 400).files)
            assert seen[0] and all(s == seen[0] for s in seen)
        finally:
            ls.worker.stop()

    asyncio.run(body())


def _tree(root, n):
    for i in range(n):
        d = root / f"pkg{i % 50}"
        d.mkdir(exist_ok=True)
        (d / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n")


def test_index_resolves_imports_honours_gitignore_and_privacy(tmp_path):
    (tmp_path / "src" / "geo").mkdir(parents=True)
    (tmp_path / "src" / "geo" / "__init__.py").write_text("")
    (tmp_path / "src" / "geo" / "shapes.py").write_text(SHAPES)
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "big.py").write_text("x = 1\n")
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "credentials.py").write_text("KEY = 'x'\n")
    from server.privacy import is_private

    idx = RepoIndex(tmp_path, lambda p: is_private(p)).start()
    assert idx.done.wait(30)
    assert idx.resolve("geo.shapes") == "src/geo/shapes.py"
    assert idx.resolve(".shapes", "src/geo/__init__.py") == "src/geo/shapes.py"
    assert idx.resolve("generated.big") is None and idx.resolve("credentials") is None
    assert "zorblax_area" in idx.read("src/geo/shapes.py")
    (tmp_path / "src" / "geo" / "shapes.py").unlink()
    idx.touch(str(tmp_path / "src" / "geo" / "shapes.py"))
    assert idx.resolve("geo.shapes") is None


def test_index_survives_bad_input_and_stays_bounded(tmp_path):
    _tree(tmp_path, 600)
    (tmp_path / "loop").mkdir()
    os.symlink(tmp_path, tmp_path / "loop" / "back")  # a symlink loop
    (tmp_path / "blob.py").write_bytes(b"\x00\x01binary" * 100)
    unreadable = tmp_path / "locked.py"
    unreadable.write_text("x = 1\n")
    unreadable.chmod(0)
    idx = RepoIndex(tmp_path, max_files=500).start()
    assert idx.done.wait(60)
    assert len(idx.files) == 500 and idx.truncated  # bounded
    assert idx.read("blob.py") is None  # binary
    if os.geteuid() != 0:
        assert idx.read("locked.py") is None  # unreadable
    assert idx.read("gone.py") is None  # deleted (or never there)
    assert idx.memory_bytes() < 200_000


def test_alternatives_on_explicit_requests_and_the_gate(tmp_path):
    async def body():
        from server.suggest import Suggester

        ls = create_server()
        # On the shipped gate's scale (the estimated chance of an exact match): the 0.9 and 0.7
        # candidates score ~0.6 and ~0.4, math.gmean under 0.01.
        ls.apply_settings({"completion": {"debounceMs": 0, "alternatives": 3, "gateThreshold": 0.1}}, initial=True)
        ls.host.engine = Recording(completion="total / len(values)\n",
                                   alternatives=["total / len(values)", "math.gmean(values)\n", "sum(values) / n\n",
                                                 "total / max(1, len(values))\n"])
        ls.host.state = "ready"
        try:
            uri = (tmp_path / "stats.py").as_uri()
            text = "import math\n\n\ndef mean(values):\n    total = sum(values)\n    n = len(values)\n    return "
            ls.documents.open(uri, "python", 1, text)
            sug = Suggester(ls)
            s = await sug.suggest(uri, 6, 11, invoked=True)
            # Distinct after trimming (the duplicate is skipped), ranked, gated: math.gmean does not exist.
            assert s.text == "total / len(values)"
            assert s.alternatives == ("sum(values) / n",)
            assert ls.host.engine.requests[-1].n == 3
            other = (tmp_path / "stats2.py").as_uri()
            ls.documents.open(other, "python", 1, text)
            s = await sug.suggest(other, 6, 11, invoked=False)  # typing: one candidate, computed alone
            assert ls.host.engine.requests[-1].n == 1 and s.alternatives == () and not s.cached
            ls.apply_settings({"completion": {"debounceMs": 0, "gateThreshold": 0.95}}, initial=True)
            assert await sug.suggest(uri, 6, 11, invoked=True) is None  # nothing is that confident
        finally:
            ls.worker.stop()

    asyncio.run(body())


def test_imports_resolve_through_the_index_of_a_bad_workspace_and_completions_keep_coming(tmp_path, monkeypatch):
    async def body():
        from server.context import Contexts
        from server.suggest import Suggester

        _tree(tmp_path, 300)
        (tmp_path / "geo").mkdir()
        (tmp_path / "geo" / "__init__.py").write_text("")
        (tmp_path / "geo" / "shapes.py").write_text(SHAPES)
        os.symlink(tmp_path, tmp_path / "geo" / "loop")
        (tmp_path / "geo" / "blob.py").write_bytes(b"\x00" * 1000)
        monkeypatch.setattr(Contexts, "_root", lambda self, path: str(tmp_path))
        ls = _server()
        try:
            sug = Suggester(ls)
            uri = (tmp_path / "app.py").as_uri()
            text = "from geo.shapes import zorblax_area\n\n\ndef total(ps):\n    return sum(zorblax_area(p) for p in ps) + "
            ls.documents.open(uri, "python", 1, text)
            first = await sug.suggest(uri, 4, len(text.rsplit("\n", 1)[-1]), invoked=True)
            assert first is not None  # while the index is still walking, or not: an answer comes
            assert sug.contexts.indexes[str(tmp_path)].done.wait(60)
            ls.documents.open(uri, "python", 2, text + " ")
            s = await sug.suggest(uri, 4, len(text.rsplit("\n", 1)[-1]) + 1, invoked=True)
            assert s is not None
            request = ls.host.engine.requests[-1]
            assert [p for p, _ in request.context] == ["geo/shapes.py"]  # resolved from the disk
            assert request.repo_path == "app.py"
        finally:
            ls.worker.stop()

    asyncio.run(body())
