"""workspace/didChangeConfiguration: merge the new settings over the current ones.

VS Code sends `{settings: {wingman: {...}}}`; Neovim sends whatever `settings` the user gave,
usually our object itself. A client that sends nothing useful is asked with
`workspace/configuration` (section "wingman"), when it supports that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from server.config import unwrap_change

if TYPE_CHECKING:
    from server.server import WingmanServer


def register(server: "WingmanServer") -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: "WingmanServer", params: types.DidChangeConfigurationParams) -> None:
        raw = unwrap_change(params.settings)
        if not raw:
            ws = ls.client_capabilities.workspace
            if ws and ws.configuration:
                result = await ls.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="wingman")])
                )
                raw = result[0] if result else None
        if not raw:
            return
        ls.apply_settings(raw, initial=False)  # features hear of it through settings_listeners
        if ls.initialized:
            ls.host.start(ls.settings)  # reloads only when the model settings changed
