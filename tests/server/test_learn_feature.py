"""The editor side of `wingman learn`: the acceptance log's fates, the per-repository adapter at
start-up (used when it fits, refused with the reason when not), the hot swap and back, and a
learn run that refuses leaving the current model serving."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from lsprotocol import types

from lsp_harness import Session
from model.acceptance_log import AcceptanceLog, read
from server.acceptance import AcceptanceTracker
from server.suggest import Suggestion


class Snap(SimpleNamespace):
    pass


def _tracker(tmp_path, enabled=True):
    server = SimpleNamespace(settings=SimpleNamespace(telemetry=SimpleNamespace(acceptance_log=enabled)))
    return AcceptanceTracker(server, AcceptanceLog(tmp_path / "log.jsonl"))


def _snap(text: str, uri: str = "file:///r/a.py") -> Snap:
    return Snap(uri=uri, text=text, path=uri.removeprefix("file://"), language_id="python")


def _show(t: AcceptanceTracker, text: str, suggestion: str, uri: str = "file:///r/a.py") -> None:
    snap = _snap(text, uri)
    t.request(snap, len(text))
    t.shown(Suggestion(snap, len(text), suggestion, "single", cached=False))


def test_each_suggestion_gets_its_fate(tmp_path):
    t = _tracker(tmp_path)
    _show(t, "x = ", "compute(a)")
    t.request(_snap("x = comp"), 8)  # typing through it: still pending
    _show(t, "x = comp", "ute(a)")  # the type-ahead rest of the same suggestion
    t.request(_snap("x = compute(a)"), 14)  # typed out by hand
    _show(t, "y = ", "1")
    t.accepted({"id": 1})
    _show(t, "z = ", "f(z)")
    t.request(_snap("z = g"), 5)  # typed something else
    _show(t, "w = ", "2", uri="file:///r/b.py")
    t.closed("file:///r/b.py")
    rows = list(read(tmp_path / "log.jsonl"))
    assert [(r["suggestion"], r["fate"]) for r in rows] == [
        ("compute(a)", "typed"), ("1", "accepted"), ("f(z)", "superseded"), ("2", "dismissed")]
    assert rows[0]["prefix"] == "x = " and rows[0]["path"] == "/r/a.py"


def test_nothing_is_logged_unless_opted_in(tmp_path):
    t = _tracker(tmp_path, enabled=False)
    _show(t, "x = ", "1")
    t.accepted({})
    assert not (tmp_path / "log.jsonl").exists()


def _install(home: Path, root: Path, meta: dict) -> Path:
    from model.repo_adapters import adapter_dir

    # adapter_dir reads WINGMAN_HOME, which conftest points at the server's home
    d = adapter_dir(root)
    assert d.parent == home / "adapters"
    d.mkdir(parents=True, exist_ok=True)
    (d / "adapter_config.json").write_text("{}")
    (d / "learn.json").write_text(json.dumps(meta))
    return d


def _fits() -> dict:
    from model import repo_adapters

    now = repo_adapters.current_provenance()
    return {"base_model_sha256": now.base_model_sha256, "shipped_adapter_sha256": now.shipped_adapter_sha256}


async def test_the_workspace_adapter_serves_and_forgetting_it_swaps_back(s: Session, tmp_path):
    from conftest import HOME

    root = tmp_path / "proj"
    root.mkdir()
    adapter = _install(Path(HOME), root, {"repository": str(root), **_fits()})
    await s.start(root=root)
    ready = await s.editor.status("ready")
    assert ready["adapter"] == str(adapter) and "repository adapter" in ready["message"]
    mark = s.editor.mark()
    out = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.forgetRepository"))
    assert out["removed"] == [str(adapter)] and not adapter.exists()
    again = await s.editor.wait_for("wingman/status", lambda p: p["state"] == "ready", start=mark)
    assert "adapter" not in again and "repository adapter" not in again["message"]


async def test_an_adapter_of_another_base_model_is_not_loaded(s: Session, tmp_path):
    from conftest import HOME

    root = tmp_path / "old"
    root.mkdir()
    _install(Path(HOME), root, {"repository": str(root), **_fits(), "base_model_sha256": "0" * 64})
    await s.start(root=root)
    ready = await s.editor.status("ready")
    assert "adapter" not in ready
    texts = [m.message for m in s.client.messages]
    assert any("adapter is not used: it was trained on another base model" in t and "Learn this repository" in t
               for t in texts), texts


async def test_learning_a_repository_too_small_leaves_the_model_serving(s: Session, tmp_path):
    root = tmp_path / "tiny"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("def f(x):\n    return x + 1\n")
    await s.start(root=root)
    await s.editor.status("ready")
    out = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.learn"))
    assert out["ok"] is False and "1 source files" in out["error"]
    texts = [m.message for m in s.client.messages]
    assert any("The current model keeps serving" in t for t in texts), texts
    status = await s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.status"))
    assert status["state"] == "ready"
    bad = s.client.workspace_execute_command_async(types.ExecuteCommandParams(command="wingman.learn",
                                                                              arguments=[{"minutes": "x"}]))
    try:
        await bad
        raise AssertionError("bad arguments were accepted")
    except Exception as exc:  # noqa: BLE001 - an Invalid Params error
        assert "minutes must be a number" in str(exc)


async def test_the_swap_releases_the_old_engine_before_the_new_one_loads(monkeypatch):
    """In process: each load finds no earlier engine alive (weak references), so two are never in
    memory together; a repository adapter that fails to load falls back to the model without it."""
    import asyncio
    import gc
    import weakref

    import model.factory
    from server.config import Settings
    from server.engine_host import EngineHost
    from server.progress import WorkProgress
    from server.worker import Worker

    alive: list[weakref.ref] = []
    seen: list[tuple[str | None, int]] = []

    class Engine:
        info = SimpleNamespace(name="stub")

        def complete(self, request, cancel):
            return []

    def load_engine(config, progress=None):
        seen.append((config.adapter, sum(1 for r in alive if r() is not None)))
        if config.adapter == "/broken":
            raise RuntimeError("bad adapter")
        e = Engine()
        alive.append(weakref.ref(e))
        return e

    monkeypatch.setattr(model.factory, "load_engine", load_engine)
    notes, messages = [], []

    class Stub:
        initialized = True
        settings = Settings()
        protocol = SimpleNamespace(notify=lambda method, params: notes.append(dict(params)))
        worker = Worker()

        async def begin_progress(self, *a, **k):
            return WorkProgress(None, None)

        def window_show_message(self, params):
            messages.append(params.message)

    stub = Stub()
    host = EngineHost(stub)
    stub.host = host
    async def settle(want):
        while not (host.state == "ready" and seen and seen[-1][0] == want and host.engine is not None):
            await asyncio.wait_for(host.wait_ready(), 60)

    try:
        host.start(stub.settings)
        await settle(None)
        host.use_adapter("/repo-a")
        await settle("/repo-a")
        gc.collect()
        host.use_adapter("/broken")  # fails, then the model without it loads
        await settle(None)
    finally:
        stub.worker.stop()
    assert [a for a, _ in seen] == [None, "/repo-a", "/broken", None]
    assert all(n == 0 for _, n in seen), seen  # no engine was alive when the next one loaded
    assert host.repo_adapter is None and host.serving_adapter is None
    assert any("did not load" in m and "without it" in m for m in messages), messages
    assert any(n["message"] == "stub + repository adapter repo-a ready" for n in notes), notes
