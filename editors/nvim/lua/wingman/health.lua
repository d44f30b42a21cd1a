-- :checkhealth wingman
local M = {}

function M.check()
  local health = vim.health
  local wingman = require("wingman")

  health.start("Neovim")
  local v = vim.version()
  if vim.fn.has("nvim-0.11") == 1 then
    health.ok(("Neovim %d.%d.%d"):format(v.major, v.minor, v.patch))
  else
    health.error("Neovim 0.11 or newer is needed (vim.lsp.config, client:request)")
  end
  if wingman.cfg then
    health.info("ghost text: " .. (wingman.use_builtin() and "vim.lsp.inline_completion (built-in)" or "Wingman's extmarks"))
  end

  health.start("Configuration")
  local cfg = wingman.cfg
  if not cfg then
    health.error("require('wingman').setup{...} has not run", { "Call it from your config, or give lazy.nvim `opts = {}`" })
    return
  end
  health.ok("setup() ran; filetypes: " .. table.concat(cfg.filetypes, ", "))

  health.start("Server")
  local exe = cfg.cmd[1]
  if vim.fn.executable(exe) == 1 then
    health.ok(("`%s` is executable (%s)"):format(exe, vim.fn.exepath(exe)))
    local ok, res = pcall(function()
      return vim.system({ exe, "serve", "--help" }, { text = true }):wait(30000)
    end)
    if ok and res.code == 0 then
      health.ok("`" .. exe .. " serve --help` works")
    else
      local err = ok and ((res.stderr or "") .. (res.stdout or "")) or tostring(res)
      health.error(("`%s serve --help` failed: %s"):format(exe, vim.trim(err):sub(-400)), {
        "Reinstall Wingman in that environment: pip install -e .",
      })
    end
  else
    health.error(("`%s` is not executable or not on $PATH"):format(exe), {
      "Install Wingman (pip install -e . in the repository)",
      "Set cmd = { '/path/to/venv/bin/wingman', 'serve' } or venv = '/path/to/venv' in setup()",
    })
  end

  local clients = vim.lsp.get_clients({ name = wingman.name })
  if #clients == 0 then
    health.warn("no Wingman server running (open a file of one of the filetypes above)")
  else
    health.ok(("%d server(s) running"):format(#clients))
  end
  local s = wingman.status
  local line = ("state: %s%s%s"):format(s.state, s.model and (", model " .. s.model) or "", s.message and (" (" .. s.message .. ")") or "")
  if s.state == "error" then
    health.error(line, { "A missing model: run `wingman model pull`", "More in :WingmanLog" })
  elseif s.state == "ready" then
    health.ok(line)
  else
    health.info(line)
  end
end

return M
