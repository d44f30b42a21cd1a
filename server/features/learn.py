""""Wingman: Learn this repository" (`wingman.learn`) and the per-repository adapter at start-up.

The run is `wingman learn ROOT --json` in a child process (niced, all cores but one; its memory
is its own): the server keeps serving while it trains, its JSON lines become `$/progress`, and
the progress's cancel button ends it. Only when the child reports an installed adapter does the
host swap the engine to it (server/engine_host.py: the old engine is released before the new one
loads). A run that is killed, cancelled or loses installs nothing, and the current model serves on.

At initialize, the workspace's adapter (model/repo_adapters.py) is used if it was trained on
today's base model and shipped adapter; otherwise the user is told to run learn again.

Commands: `wingman.learn` `[]` or `[{"root"?, "minutes"?}]`; `wingman.forgetRepository` (remove
this workspace's adapter and serve without it); `wingman.deleteAcceptanceLog`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from server.features.commands import BadArguments

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)
LEARN, FORGET, DELETE_LOG = "wingman.learn", "wingman.forgetRepository", "wingman.deleteAcceptanceLog"


def workspace_root(ls: "WingmanServer") -> Path | None:
    try:
        ws = ls.workspace
    except RuntimeError:
        return None
    folders = list(ws.folders.values())
    if folders:
        from pygls.uris import to_fs_path

        path = to_fs_path(folders[0].uri)
        return Path(path) if path else None
    return Path(ws.root_path) if ws.root_path else None


def adapter_problem(path: Path) -> str | None:
    from model import repo_adapters

    try:
        now = repo_adapters.current_provenance()
    except Exception as exc:  # noqa: BLE001 - no pulled base model: the load will say so itself
        return f"the default model cannot be checked ({exc})"
    return repo_adapters.incompatible(repo_adapters.read_meta(path), now)


def choose_adapter(ls: "WingmanServer") -> None:
    """At initialize: the workspace's adapter, if it fits today's default model."""
    from model import repo_adapters

    root = workspace_root(ls)
    found = repo_adapters.for_repository(root) if root else None
    if found is None:
        return
    problem = adapter_problem(found.path)
    if problem:
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning,
            message=f"Wingman: this repository's adapter is not used: {problem}. Run \"Wingman: Learn this "
                    "repository\" (or `wingman learn`) again."))
        return
    ls.host.repo_adapter = str(found.path)


def learn_args(args: tuple) -> dict:
    if not args:
        return {}
    if len(args) > 1 or not isinstance(args[0], dict):
        raise BadArguments('expected [] or [{"root"?, "minutes"?}]')
    info = args[0]
    if "root" in info and not isinstance(info["root"], str):
        raise BadArguments("root must be a string")
    if "minutes" in info and not (isinstance(info["minutes"], (int, float)) and not isinstance(info["minutes"], bool)
                                  and 0 < info["minutes"] <= 24 * 60):
        raise BadArguments("minutes must be a number in (0, 1440]")
    return info


def command_line(root: Path, info: dict, ignore: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "wingman", "learn", str(root), "--json"]
    if "minutes" in info:
        argv += ["--minutes", str(info["minutes"])]
    for pattern in ignore:
        argv += ["--ignore", pattern]
    return argv


class Learner:
    def __init__(self, server: "WingmanServer") -> None:
        self.server = server
        self.proc: asyncio.subprocess.Process | None = None

    async def run(self, info: dict) -> dict:
        ls = self.server
        if self.proc is not None and self.proc.returncode is None:
            return {"ok": False, "error": "a learn run is already going"}
        root = Path(info["root"]).expanduser() if info.get("root") else workspace_root(ls)
        if root is None or not root.is_dir():
            return {"ok": False, "error": "no workspace folder to learn (open a folder, or pass {\"root\": ...})"}
        progress = await ls.begin_progress("Wingman: learning this repository", str(root), cancellable=True)
        minutes = float(info.get("minutes", 20.0))
        self.proc = proc = await asyncio.create_subprocess_exec(
            *command_line(root, info, ls.settings.ignore), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        progress.on_cancel(lambda: proc.returncode is None and proc.kill())
        result: dict[str, Any] = {}
        error = ""
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            if msg.get("learn") == "result":
                result = msg
            elif msg.get("learn") == "error":
                error = str(msg.get("message", ""))
            elif "learn" in msg:
                frac = msg.get("fraction")
                progress.report(str(msg.get("message", "")), None if frac is None else int(100 * frac))
            elif "step" in msg and "loss" in msg:  # training/train.py's rows
                done = min(1.0, float(msg.get("elapsed_s", 0)) / (60 * minutes))
                progress.report(f"training: step {msg['step']}, loss {msg['loss']:.3f}", int(12 + 68 * done))
        stderr = (await proc.stderr.read()).decode("utf-8", "replace") if proc.stderr else ""
        code = await proc.wait()
        self.proc = None
        if code != 0 or not result:
            why = error or ("cancelled" if code < 0 else stderr.strip().splitlines()[-1:] or [f"exit code {code}"])[0]
            progress.end("stopped")
            ls.window_show_message(types.ShowMessageParams(
                type=types.MessageType.Warning,
                message=f"Wingman learn did not finish: {why}. The current model keeps serving."))
            return {"ok": False, "error": why, "exitCode": code}
        head = result.get("headline", {})
        em0 = 100 * head.get("before", {}).get("exact_match", 0)
        em1 = 100 * head.get("after", {}).get("exact_match", 0)
        installed = result.get("installed")
        if installed:
            problem = adapter_problem(Path(installed))
            if problem:
                installed = None
                verdict = f"the new adapter is not used: {problem}"
            else:
                ls.host.use_adapter(installed)
                verdict = "now serving it"
        else:
            verdict = "not installed: it did not beat the current model"
        progress.end(verdict)
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Info,
            message=f"Wingman learned {root.name}: held-out exact match {em0:.1f}% -> {em1:.1f}%; {verdict}."))
        return {"ok": True, "installed": installed, "won": result.get("won"), "table": result.get("table"),
                "headline": head, "wallSeconds": result.get("wall_s")}


def register(server: "WingmanServer") -> None:
    learner = Learner(server)
    server.initialize_hooks.append(choose_adapter)

    @server.command(LEARN)
    async def learn(ls, *args: Any) -> dict:
        return await learner.run(learn_args(args))

    @server.command(FORGET)
    def forget(ls, *args: Any) -> dict:
        from model import repo_adapters

        root = workspace_root(ls)
        gone = [str(p) for p in repo_adapters.remove(str(root))] if root else []
        if ls.host.repo_adapter:
            ls.host.use_adapter(None)
        return {"removed": gone}

    @server.command(DELETE_LOG)
    def delete_log(ls, *args: Any) -> dict:
        from model import acceptance_log

        return {"deleted": acceptance_log.delete(), "path": str(acceptance_log.log_path())}
