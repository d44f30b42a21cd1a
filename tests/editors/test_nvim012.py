"""The Neovim plugin on Neovim 0.12, where it uses the built-in `vim.lsp.inline_completion` for
ghost text instead of its own extmarks. Same driving as test_nvim.py (pynvim, the real server on the
fake engine, waits on conditions inside Neovim). Neovim 0.12 comes from
`editors/install-nvim-0.12.sh` (Debian unstable's build, unpacked; see editors/README.md), or
$WINGMAN_TEST_NVIM012; skipped, with the reason, without one.
"""

from __future__ import annotations

import pytest

from tests.editors import test_nvim as t
from tests.editors.conftest import clean_env, nvim012_exe, server_missing, wingman_exe

pynvim = pytest.importorskip("pynvim")

NVIM012 = nvim012_exe()
pytestmark = pytest.mark.skipif(NVIM012 is None, reason="Neovim 0.12+ not found (editors/install-nvim-0.12.sh)")

BUILTIN_NS = "vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']"


@pytest.fixture
def nvim(tmp_path, monkeypatch):
    for key, value in clean_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    session = t.start_nvim(tmp_path, NVIM012)
    yield session
    t.stop_nvim(session)


@pytest.fixture
def server_cmd():
    why = server_missing()
    if why:
        pytest.skip(why)
    return [wingman_exe(), "serve", "--engine", "fake"]


def test_builtin_inline_completion_shows_ghost_text_and_tab_accepts_it(nvim, tmp_path, server_cmd):
    assert nvim.exec_lua("return vim.version().minor") >= 12
    t.setup_plugin(nvim, server_cmd, {"fakeEngine": t.FAKE, "completion": {"debounceMs": 0, "gateThreshold": 0}, "diagnostics": {"enabled": False}})
    t.open_ready(nvim, tmp_path / "calc.py")
    assert nvim.exec_lua("return require('wingman').use_builtin()") is True
    assert nvim.exec_lua("return vim.lsp.inline_completion.is_enabled({bufnr = 0})") is True
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    # Neovim's own extmark, in its own namespace (not the plugin's).
    text = t.wait(nvim, f"(vim.api.nvim_buf_get_extmarks(0, {BUILTIN_NS}, 0, -1, {{details = true}})[1] or {{}})[4]"
                        " and vim.api.nvim_buf_get_extmarks(0, " + BUILTIN_NS + ", 0, -1, {details = true})[1][4].virt_text[1][1]")
    assert text == "return a + b", nvim.exec_lua("return _G.notes")
    assert nvim.exec_lua("return #vim.api.nvim_buf_get_extmarks(0, require('wingman.ghost').ns, 0, -1, {})") == 0
    # The plugin's Tab goes to vim.lsp.inline_completion.get().
    nvim.input("<Tab>")
    line = t.wait(nvim, "vim.api.nvim_buf_get_lines(0, 1, 2, true)[1] ~= '    ' and vim.api.nvim_buf_get_lines(0, 1, 2, true)[1]")
    assert line == "    return a + b"
    assert nvim.api.get_mode()["mode"] == "i"
    # With nothing shown, Tab is a plain Tab.
    nvim.input("<Esc>o")
    t.wait(nvim, "vim.api.nvim_get_mode().mode == 'i'", 5000)
    nvim.input("<Tab>")
    assert t.wait(nvim, "vim.api.nvim_get_current_line() == '\\t' or vim.api.nvim_get_current_line():match('^%s+$') ~= nil", 5000)


def test_busy_statusline_with_the_builtin(nvim, tmp_path):
    if server_missing():
        pytest.skip(server_missing())
    t.setup_plugin(nvim, t.proxy_cmd("--busy-after-ms", "300"), {
        "fakeEngine": {**t.FAKE, "delayS": 1.5},
        # No deadline: the answer is meant to arrive slowly and still be shown (the deadline has its own tests).
        "completion": {"debounceMs": 0, "deadlineMs": 0, "gateThreshold": 0}, "diagnostics": {"enabled": False},
    }, busy={"virtual_text": True})
    t.open_ready(nvim, tmp_path / "calc.py")
    nvim.command("call cursor(2, 1)")
    nvim.input("i    ")
    assert t.wait(nvim, "require('wingman').statusline() == 'Wingman: thinking…'", 10000) is True
    assert nvim.exec_lua("return #vim.api.nvim_buf_get_extmarks(0, require('wingman').busy_ns, 0, -1, {})") == 1
    assert t.wait(nvim, f"#vim.api.nvim_buf_get_extmarks(0, {BUILTIN_NS}, 0, -1, {{}}) > 0", 10000) is True
    assert t.wait(nvim, "require('wingman').statusline() == 'Wingman: ready'", 10000) is True
    assert nvim.exec_lua("return #vim.api.nvim_buf_get_extmarks(0, require('wingman').busy_ns, 0, -1, {})") == 0


def test_generated_tests_are_saved_and_focused(nvim, tmp_path, server_cmd):
    t.setup_plugin(nvim, server_cmd, {"fakeEngine": t.FAKE, "completion": {"debounceMs": 0, "gateThreshold": 0}, "diagnostics": {"enabled": False}})
    t.open_ready(nvim, tmp_path / "calc.py", "\n".join(t.FUNCTION))
    nvim.command("call cursor(1, 5)")
    nvim.command("WingmanGenerateTests")
    created = t.wait(nvim, "require('wingman').last_created and require('wingman').last_created[1]")
    assert created, nvim.exec_lua("return {_G.notes, require('wingman').last_result}")
    t.assert_created_saved_and_focused(nvim, created)


def test_crash_at_start_is_one_message(nvim, tmp_path):
    broken = tmp_path / "wingman"
    broken.write_text('#!/bin/sh\necho "ModuleNotFoundError: No module named \'pygls\'" >&2\nexit 1\n')
    broken.chmod(0o755)
    t.setup_plugin(nvim, [str(broken), "serve"])
    (tmp_path / "x.py").write_text("x = 1\n")
    nvim.command(f"edit {tmp_path / 'x.py'}")
    shown = t.wait(nvim, "vim.iter(_G.notes):find(function(n) return n:find('exited at start', 1, true) end)", 10000)
    assert shown and "No module named 'pygls'" in shown
    assert t.wait(nvim, "#vim.lsp.get_clients({_uninitialized = true}) == 0", 10000) is True
    assert nvim.exec_lua("return _G.notes") == [shown]
