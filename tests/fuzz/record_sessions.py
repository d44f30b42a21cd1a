"""Record the editor sessions the fuzzer mutates (tests/fuzz/sessions/*.jsonl), one client
message per line.

    python tests/fuzz/record_sessions.py            # both
    python tests/fuzz/record_sessions.py neovim     # or one

- neovim.jsonl: a real headless Neovim 0.11 with our plugin (editors/nvim), typing, accepting a
  suggestion, asking for code actions, running commands, editing non-ASCII text, closing; every
  message it sent to the server, recorded by tee_proxy.py.
- vscode.jsonl: VS Code is not on this machine, so this one is written, not recorded: VS Code's
  client capabilities (pytest-lsp's snapshot of VS Code, plus inline completion), the
  initializationOptions our extension builds (editors/vscode/src/settings.ts), and the message
  order vscode-languageclient uses (didChangeConfiguration after initialized, incremental
  didChange per keystroke, inline completion with its context, $/cancelRequest when a newer
  request supersedes one, codeAction with triggerKind, the accept command, shutdown and exit).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SESSIONS = HERE / "sessions"
FAKE = {"completion": "return a + b\n", "reply": "```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n"}


def record_neovim(out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    import pynvim

    from tests.editors.conftest import clean_env, nvim_exe
    from tests.editors.test_nvim import open_ready, setup_plugin, start_nvim, stop_nvim, wait

    tmp = Path(tempfile.mkdtemp(prefix="wingman-record-"))
    os.environ.update(clean_env(tmp))
    log = tmp / "neovim.jsonl"
    nvim = start_nvim(tmp, nvim_exe())
    try:
        cmd = [sys.executable, str(HERE / "tee_proxy.py"), str(log), "--", sys.executable, "-m", "wingman", "serve",
               "--engine", "fake"]
        setup_plugin(nvim, cmd, {"fakeEngine": FAKE, "completion": {"debounceMs": 0}, "diagnostics": {"debounceMs": 0}})
        open_ready(nvim, tmp / "calc.py", "def add(a, b):\n\n")
        nvim.command("call cursor(2, 1)")
        nvim.input("i    ")
        assert wait(nvim, "require('wingman.ghost').text()") == "return a + b"
        nvim.input("<Tab>")
        wait(nvim, "vim.api.nvim_buf_get_lines(0, 1, 2, true)[1] ~= '    '")
        nvim.input("<CR><CR># ünïcødé 😀 中文<CR>x = 1<Esc>")
        wait(nvim, "vim.api.nvim_get_mode().mode == 'n'")
        for line in (0, 4):
            nvim.exec_lua(
                "local p = vim.lsp.util.make_range_params(0, 'utf-16');"
                f" p.range.start.line = {line}; p.range['end'].line = {line};"
                " p.context = {diagnostics = {}, triggerKind = 1};"
                " vim.lsp.buf_request_sync(0, 'textDocument/codeAction', p, 10000)")
        nvim.exec_lua("vim.lsp.buf_request_sync(0, 'workspace/executeCommand',"
                      " {command = 'wingman.status', arguments = {}}, 10000)")
        nvim.exec_lua("vim.lsp.buf_request_sync(0, 'workspace/executeCommand',"
                      " {command = 'wingman.codeFromComment', arguments = {vim.uri_from_bufnr(0), {line = 3, character = 2}}},"
                      " 20000)")
        nvim.input("ggdd")
        nvim.input("u")
        nvim.input("Go<C-r>=repeat('y', 300)<CR><Esc>")
        wait(nvim, "vim.api.nvim_get_mode().mode == 'n'")
        nvim.command("write")
        nvim.command("bwipeout!")
        # A graceful stop: shutdown, then exit (stop_nvim forces it, and sends neither).
        nvim.exec_lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop() end")
        wait(nvim, "#vim.lsp.get_clients() == 0")
    finally:
        stop_nvim(nvim)
    lines = log.read_text().splitlines()
    assert any('"initialize"' in ln for ln in lines) and any('"exit"' in ln for ln in lines), "incomplete session"
    out.write_text("\n".join(lines) + "\n")


def record_vscode(out: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "server"))
    from lsprotocol.converters import get_converter

    from lsp_harness import vscode_capabilities

    caps = get_converter().unstructure(vscode_capabilities())
    root = "file:///home/user/project"
    uri = f"{root}/calc.py"
    options = {"model": {"backend": "local", "path": "default", "adapter": None, "device": "cpu", "quantize": "auto",
                         "remoteUrl": "", "remoteModel": ""},
               "completion": {"enabled": True, "mode": "auto", "maxTokens": 64, "debounceMs": 0, "promptBudget": 1024,
                              "fallback": "auto"},
               "diagnostics": {"enabled": True, "threshold": -8, "maxPerFile": 5, "maxFileBytes": 200000, "debounceMs": 0},
               "languages": ["python", "javascript", "typescript"], "ignore": [], "telemetry": {"enabled": True},
               "actions": {"translateTarget": "newFile", "runGeneratedTests": False, "testTimeoutS": 20},
               "fakeEngine": FAKE}
    msgs: list[dict] = []
    ids = iter(range(0, 10_000))

    def request(method: str, params) -> int:
        msg_id = next(ids)
        msgs.append({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def notify(method: str, params) -> None:
        msgs.append({"jsonrpc": "2.0", "method": method, "params": params})

    request("initialize", {"processId": 4242, "clientInfo": {"name": "Visual Studio Code", "version": "1.96.0"},
                           "locale": "en", "rootPath": "/home/user/project", "rootUri": root, "capabilities": caps,
                           "initializationOptions": options, "trace": "off",
                           "workspaceFolders": [{"uri": root, "name": "project"}]})
    notify("initialized", {})
    notify("workspace/didChangeConfiguration", {"settings": {"wingman": options}})
    text = "def add(a, b):\n\n"
    notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}})
    version, line, col = 1, 1, 0
    last = None
    for ch in "    return a + b\nx = 'ünï 😀'\n":
        version += 1
        end = {"line": line, "character": col}
        notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [
            {"range": {"start": end, "end": end}, "rangeLength": 0, "text": ch}]})
        if ch == "\n":
            line, col = line + 1, 0
        else:
            col += len(ch.encode("utf-16-le")) // 2
        if last is not None:
            notify("$/cancelRequest", {"id": last})
        last = request("textDocument/inlineCompletion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": col},
            "context": {"triggerKind": 1, "selectedCompletionInfo": None}})
    request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": {
        "start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 4}},
        "context": {"diagnostics": [], "triggerKind": 2}})
    request("workspace/executeCommand", {"command": "wingman.accept", "arguments": [
        {"id": 1, "language": "python", "mode": "single"}]})
    request("workspace/executeCommand", {"command": "wingman.translate", "arguments": [
        uri, {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}, "javascript"]})
    notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version + 1}, "contentChanges": [
        {"text": "def add(a, b):\n    return a + b\n"}]})
    notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    request("shutdown", None)
    notify("exit", None)
    out.write_text("".join(json.dumps(m) + "\n" for m in msgs))


def main(argv: list[str]) -> int:
    SESSIONS.mkdir(exist_ok=True)
    which = argv or ["neovim", "vscode"]
    if "neovim" in which:
        record_neovim(SESSIONS / "neovim.jsonl")
    if "vscode" in which:
        record_vscode(SESSIONS / "vscode.jsonl")
    for name in which:
        print(f"{name}: {len((SESSIONS / f'{name}.jsonl').read_text().splitlines())} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
