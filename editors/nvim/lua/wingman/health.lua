-- :checkhealth wingman — each failure with the advice for that failure (lua/wingman/advice.lua).
local M = {}

function M.check()
  local health = vim.health
  local wingman = require("wingman")
  local advice = require("wingman.advice")

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
  local home = advice.home(cfg)
  if home then
    health.info(("WINGMAN_HOME=%s (models are pulled there)"):format(home))
  end

  health.start("Server")
  local exe = cfg.cmd[1]
  local problem = advice.for_cmd(cfg)
  local runs = false
  if problem then
    health.error(problem.problem, problem.advice)
  else
    health.ok(("`%s` is executable (%s)"):format(exe, vim.fn.exepath(exe)))
    local ok, res = pcall(function()
      return vim.system({ exe, "serve", "--help" }, { text = true, env = cfg.env }):wait(30000)
    end)
    if ok and res.code == 0 then
      runs = true
      health.ok("`" .. exe .. " serve --help` works")
    else
      local out = ok and vim.trim((res.stderr or "") .. (res.stdout or "")) or tostring(res)
      local last
      for l in out:gmatch("[^\n]+") do
        if l:find("Error") or l:find("error:") then
          last = vim.trim(l)
        end
      end
      local crash = advice.for_crash(cfg, ok and res.code or -1, last)
      health.error(("`%s serve --help` failed: %s"):format(exe, (last or out):sub(-400)), crash.advice)
    end
  end

  local clients = vim.lsp.get_clients({ name = wingman.name })
  if #clients == 0 then
    if runs then
      health.warn("no Wingman server running (open a file of one of the filetypes above)")
    end
  else
    health.ok(advice.count(#clients, "server") .. " running")
  end
  local s = wingman.status
  local line = ("state: %s%s%s"):format(s.state, s.model and (", model " .. s.model) or "", s.message and (" (" .. s.message .. ")") or "")
  if s.state == "error" then
    if problem then
      return -- said above
    end
    if (s.message or ""):find("exited at start", 1, true) or (s.message or ""):find("exited with code", 1, true) then
      health.error(line, { "The server crashed: its stderr is in :WingmanLog", ":WingmanRestart after fixing it" })
    else
      local a = advice.for_model(cfg, s.message)
      health.error(("%s: %s"):format(a.problem, advice.rewrite_model_message(cfg, s.message or "")), a.advice)
    end
  elseif s.state == "ready" then
    health.ok(line)
  elseif s.state == "loading" and type(s.progress) == "table" then
    health.info(("%s: %s %s%%"):format(line, s.progress.step or "", s.progress.percentage or "?"))
  else
    health.info(line)
  end
end

return M
