"""Loading the engine in the background, and telling the editor how it goes.

`initialize` is answered at once. Loading starts at `initialized`, on the inference worker (the
engine must live on that thread), with `$/progress` for clients that support work-done progress
and a `wingman/status` notification on every change of state. A failure is shown to the user
with its reason and the fix, and the server stays up, answering requests with nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from model.config import BASE_MODEL, DEFAULT_MODEL, EngineConfig
from model.engine import Engine, EngineError, ModelNotFoundError
from model.paths import models_dir
from server.config import Settings
from server.engine_text import CleanTextEngine
from server.worker import ADMIN

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)

PATH_FIX = ("Fix: set `wingman.model.path` to an existing checkpoint directory, .gguf file or peft adapter "
            "directory, or to \"default\"; the server reloads when the setting changes.")


def pull_command() -> str:
    """The pull command for this very server: its own executable, and its cache folder when that
    was chosen through WINGMAN_HOME (a pull without it would fill another folder)."""
    exe = sys.argv[0] if sys.argv and Path(sys.argv[0]).name == "wingman" else f"{sys.executable} -m wingman"
    home = f"WINGMAN_HOME={shlex.quote(os.environ['WINGMAN_HOME'])} " if os.environ.get("WINGMAN_HOME") else ""
    return f"{home}{exe} model pull"


def advice(config: EngineConfig, exc: Exception) -> str:
    """What the user should do, for this failure: pulling only helps the default model."""
    if isinstance(exc, ModelNotFoundError):
        if config.model in (DEFAULT_MODEL, BASE_MODEL, ""):
            return f"Fix: run `{pull_command()}` (the model goes to {models_dir()}), then reload the window."
        return PATH_FIX
    if isinstance(exc, EngineError):
        return ""  # its message says what to do (memory, a remote server, a bad checkpoint)
    return ("Fix: check `wingman.model.*` (path, device, quantize) and the server's log "
            "(`--log-file`), then reload the window.")


def engine_config(settings: Settings, repo_adapter: str | None = None) -> EngineConfig:
    """The settings' model section is the engine's config; `fakeEngine` (tests) picks the fake.
    `repo_adapter` (the workspace's `wingman learn` adapter) applies to the default model only,
    and only when the settings name no adapter of their own."""
    config = settings.model
    if settings.fake_engine is not None:
        config = replace(settings.model, backend="fake", fake=settings.fake_engine)
    if repo_adapter and config.model in (DEFAULT_MODEL, "") and not config.adapter and config.backend != "remote":
        config = replace(config, adapter=repo_adapter)
    return config


def model_key(settings: Settings, repo_adapter: str | None = None) -> str:
    """What, when changed, needs a reload."""
    return repr(engine_config(settings, repo_adapter))


class EngineHost:
    def __init__(self, server: "WingmanServer") -> None:
        self.server = server
        self.engine: Engine | None = None
        self.state = "loading"
        self.model = ""
        self.message = "starting"
        self.loaded_key: str | None = None
        self.progress: dict | None = None  # {step, percentage} while loading
        self._load_task: asyncio.Task | None = None
        self._waiters: list[asyncio.Future] = []
        self.repo_adapter: str | None = None  # the workspace's adapter from `wingman learn`, if one fits
        self.serving_adapter: str | None = None  # the adapter of the engine loaded (or loading)

    @property
    def ready(self) -> bool:
        return self.state == "ready" and self.engine is not None

    def status(self) -> dict:
        out = {"state": self.state, "message": self.message, "model": self.model}
        if self.serving_adapter:
            out["adapter"] = self.serving_adapter
        if self.state == "loading" and self.progress is not None:
            out["progress"] = dict(self.progress)
        return out

    async def wait_ready(self) -> None:
        """Returns at the next change of state (ready or error)."""
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut

    def _set(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        if state != "loading":
            for fut in self._waiters:
                if not fut.done():
                    fut.set_result(state)
            self._waiters.clear()
        self.server.protocol.notify("wingman/status", self.status())

    def use_adapter(self, path: str | None) -> None:
        """Serve the default model with this repository adapter (None: without), swapping the
        engine in place: the old one is released before the new one loads, so two are never in
        memory together. A failed load falls back to the model without the adapter."""
        self.repo_adapter = path
        if self.server.initialized:
            self.start(self.server.settings)

    def start(self, settings: Settings) -> None:
        key = model_key(settings, self.repo_adapter)
        if key == self.loaded_key and self.state != "error":
            return
        self.loaded_key = key
        if self._load_task and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = asyncio.ensure_future(self._load(settings))

    async def _load(self, settings: Settings) -> None:
        config = engine_config(settings, self.repo_adapter)
        self.engine = None  # released here; the load job collects it before reading the new weights
        self.serving_adapter = config.adapter if config.adapter and config.adapter == self.repo_adapter else None
        self.model = config.model if config.backend == "local" else (
            config.remote_model or config.remote_url if config.backend == "remote" else "fake")
        self.progress = None
        self._set("loading", f"loading {self.model}")
        progress = await self.server.begin_progress("Wingman: loading model", self.model, cancellable=False)
        loop = asyncio.get_running_loop()

        def report(message: str, fraction: float | None = None) -> None:
            pct = None if fraction is None else max(0, min(100, int(fraction * 100)))
            loop.call_soon_threadsafe(self._progress, progress, message, pct)

        def load(_cancel) -> Engine:
            import gc

            from model.factory import load_engine

            gc.collect()  # the engine just released: its weights go before the new ones come
            return load_engine(config, progress=report)

        job = self.server.worker.submit(ADMIN, load)
        try:
            engine = await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            job.cancel()
            progress.end("superseded")
            raise
        except EngineError as exc:
            progress.end("failed")
            if self._fall_back(config, exc):
                return
            self._fail(f"Wingman could not load the model: {exc}", advice(config, exc))
            return
        except Exception as exc:  # noqa: BLE001 - any failure must leave the server up
            log.exception("engine load failed")
            progress.end("failed")
            if self._fall_back(config, exc):
                return
            self._fail(f"Wingman could not load the model {self.model!r}: {type(exc).__name__}: {exc}.",
                       advice(config, exc))
            return
        self.engine = CleanTextEngine(engine)
        info = getattr(engine, "info", None)
        if info is not None and getattr(info, "name", ""):
            self.model = info.name
        progress.end("ready")
        served = ""
        if self.serving_adapter:  # the status line says which model serves
            name = Path(self.serving_adapter).name
            served = " (repository adapter)" if name in self.model else f" + repository adapter {name}"
        self._set("ready", f"{self.model}{served} ready")

    def _fall_back(self, config: EngineConfig, exc: Exception) -> bool:
        """A repository adapter that does not load: say so, and serve the model without it."""
        if not self.serving_adapter or config.adapter != self.repo_adapter:
            return False
        self.server.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning,
            message=f"Wingman: the repository adapter {self.serving_adapter} did not load ({exc}); serving the "
                    "model without it. Run `wingman learn` again."))
        self.repo_adapter = self.serving_adapter = None
        self.loaded_key = None
        asyncio.get_running_loop().call_soon(lambda: self.start(self.server.settings))  # after this load ends
        return True

    def _progress(self, progress, step: str, percentage: int | None) -> None:
        progress.report(step, percentage)
        if self.state == "loading":
            self.progress = {"step": step, **({"percentage": percentage} if percentage is not None else {})}
            self.server.protocol.notify("wingman/status", self.status())

    def _fail(self, message: str, fix: str) -> None:
        message = f"{message} {fix}".strip()
        # The message first: a client that reacts to the status finds the reason already shown.
        self.server.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
        self._set("error", message)
