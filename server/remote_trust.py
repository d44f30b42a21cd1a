"""No code to a URL the user did not choose.

A remote model URL (`model.remoteUrl` with `model.backend: "remote"`) is used at once when it comes
from the user: `initializationOptions` (the editor plugin's own start-up settings) or the command
line (`wingman serve --remote-url`). One that arrives later, by `workspace/didChangeConfiguration`
or `workspace/configuration`, may come from a repository's workspace settings, which anyone who
wrote the repository chose: it is held (the model settings stay as they are) until the user says
yes to a `window/showMessageRequest`, as VS Code's workspace trust does. A yes is remembered in
$WINGMAN_HOME/trusted-remote-urls.json; a no, or no answer, for the rest of the session.

Besides the loopback (the editor's own connection, `wingman serve --tcp 127.0.0.1:…`) that URL is
the only address the server ever contacts.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from model.paths import wingman_home
from server.config import Settings

if TYPE_CHECKING:
    from server.server import WingmanServer

log = logging.getLogger(__name__)
ALLOW, DENY = "Allow", "Don't allow"


class RemoteTrust:
    def __init__(self, server: "WingmanServer", path: Path | None = None) -> None:
        self.server = server
        self.path = path or wingman_home() / "trusted-remote-urls.json"
        self.trusted: set[str] = set(self._load())
        self.refused: set[str] = set()
        self.asking: dict[str, Settings] = {}  # url -> the newest settings held for it

    def _load(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [u for u in data if isinstance(u, str)] if isinstance(data, list) else []

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(sorted(self.trusted), indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("could not write %s: %s", self.path, exc)

    @staticmethod
    def wanted(settings: Settings) -> str:
        """The URL these settings would send code to ("" for none)."""
        m = settings.model
        return m.remote_url if m.backend == "remote" and settings.fake_engine is None else ""

    def screen(self, new: Settings, current: Settings, *, from_user: bool) -> Settings:
        """`new`, or `new` with the current model settings while its URL waits for a yes."""
        url = self.wanted(new)
        if not url or url in self.trusted:
            return new
        if from_user:
            self.trusted.add(url)  # for this session; only a confirmation is written down
            return new
        held = copy.copy(new)  # everything else applies; the engine stays the one in use
        held.model, held.fake_engine = copy.deepcopy(current.model), copy.deepcopy(current.fake_engine)
        if url in self.refused:
            self._tell(f"Wingman: not sending code to {url} (refused earlier in this session); "
                       "set it in your user settings to use it.")
        elif url not in self.asking:
            self.asking[url] = new
            asyncio.ensure_future(self._ask(url))
        else:
            self.asking[url] = new
        return held

    async def _ask(self, url: str) -> None:
        ls = self.server
        answer = None
        try:
            answer = await ls.window_show_message_request_async(types.ShowMessageRequestParams(
                type=types.MessageType.Warning,
                message=(f"The workspace settings ask Wingman to send your code to {url}. "
                         "Allow it only if you trust that server."),
                actions=[types.MessageActionItem(title=ALLOW), types.MessageActionItem(title=DENY)]))
        except Exception as exc:  # noqa: BLE001 - no answer is a no
            log.info("no answer about %s: %s", url, exc)
        settings = self.asking.pop(url, None)
        if getattr(answer, "title", None) != ALLOW or settings is None:
            self.refused.add(url)
            self._tell(f"Wingman: not sending code to {url}. Use it from your user settings, or "
                       "`wingman serve --remote-url`, to allow it.")
            return
        self.trusted.add(url)
        self._save()
        # Apply the model settings held for it, over whatever else changed since.
        now = copy.copy(ls.settings)
        now.model, now.fake_engine = settings.model, settings.fake_engine
        ls.settings = now
        if ls.initialized:
            ls.host.start(now)

    def _tell(self, message: str) -> None:
        self.server.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=message))
