-- What went wrong and what to do about it, specific to each failure: a wrong executable path, a
-- missing virtual environment, a server that dies at start, a model not pulled, a wrong model
-- path. Used by the messages, :WingmanStatus and :checkhealth wingman.
local M = {}

--- n and the noun, plural-aware: count(1, "server") = "1 server", count(2, "server") = "2 servers".
function M.count(n, singular, plural)
  return ("%d %s"):format(n, n == 1 and singular or (plural or singular .. "s"))
end

local function quote(s)
  return s:find("[%s'\"$]") and vim.fn.shellescape(s) or s
end

--- The WINGMAN_HOME the server runs with: the plugin's `env`, else Neovim's own environment.
function M.home(cfg)
  local env = cfg and cfg.env or {}
  return env.WINGMAN_HOME or vim.env.WINGMAN_HOME
end

--- The pull command for the server this plugin starts, naming its environment:
--- `WINGMAN_HOME=/m /v/bin/wingman model pull` (just `wingman model pull` when nothing is special).
function M.pull_command(cfg)
  local exe = cfg and cfg.cmd and cfg.cmd[1] or "wingman"
  local home = M.home(cfg)
  return ("%s%s model pull"):format(home and ("WINGMAN_HOME=" .. quote(home) .. " ") or "", quote(exe))
end

local function venv_of(cfg)
  if cfg.venv then
    return vim.fs.normalize(cfg.venv)
  end
  local exe = cfg.cmd and cfg.cmd[1] or ""
  local dir = exe:match("^(.*)/bin/[^/]+$")
  if dir and vim.uv.fs_stat(dir .. "/pyvenv.cfg") then
    return dir
  end
end

--- Why `cfg.cmd` cannot be run, and what to do: {problem = string, advice = string[]} or nil.
function M.for_cmd(cfg)
  local cmd = cfg.cmd
  if type(cmd) ~= "table" or type(cmd[1]) ~= "string" then
    return { problem = "`cmd` must be a list like { 'wingman', 'serve' }", advice = { "Fix `cmd` in require('wingman').setup{...}" } }
  end
  local exe = cmd[1]
  if vim.fn.executable(exe) == 1 then
    return nil
  end
  if not exe:find("/", 1, true) then
    return {
      problem = ("`%s` is not on $PATH"):format(exe),
      advice = {
        "Set `venv = '/path/to/.venv'` (the virtual environment Wingman is installed in) or "
          .. "`cmd = { '/path/to/.venv/bin/wingman', 'serve' }` in setup{}",
        "Or install Wingman: `pip install -e .` in its repository",
      },
    }
  end
  if cfg.venv then
    local venv = vim.fs.normalize(cfg.venv)
    if not vim.uv.fs_stat(venv) then
      return {
        problem = ("the virtual environment `%s` (setup's `venv`) does not exist"):format(venv),
        advice = {
          ("Fix `venv` in setup{}, or create it: `python -m venv %s && %s/bin/pip install -e /path/to/wingman`"):format(quote(venv), quote(venv)),
        },
      }
    end
    return {
      problem = ("Wingman is not installed in the virtual environment `%s` (no %s)"):format(venv, exe),
      advice = { ("Install it there: `%s/bin/pip install -e /path/to/wingman`"):format(quote(venv)) },
    }
  end
  local stat = vim.uv.fs_stat(exe)
  if stat and stat.type == "file" then
    return { problem = ("`%s` is not executable"):format(exe), advice = { ("`chmod +x %s`, or fix `cmd` in setup{}"):format(quote(exe)) } }
  end
  local dir = vim.fs.dirname(exe)
  return {
    problem = ("`%s` does not exist%s"):format(exe, vim.uv.fs_stat(dir) and "" or (" (nor does " .. dir .. ")")),
    advice = { "Fix the path in setup's `cmd` (the `wingman` of the virtual environment Wingman is installed in), or use `venv = '/path/to/.venv'`" },
  }
end

--- A server that exited at once: {problem, advice} from its exit code and last stderr line.
function M.for_crash(cfg, code, why)
  local exe = cfg.cmd[1]
  local problem = ("the server exited at start (exit code %d)%s"):format(code, why and (": " .. why) or "")
  local advice
  if why and (why:find("ModuleNotFoundError", 1, true) or why:find("ImportError", 1, true)) then
    local venv = venv_of(cfg)
    advice = {
      ("The environment of `%s` is incomplete: reinstall Wingman there (`%s -m pip install -e /path/to/wingman`)"):format(
        exe,
        venv and quote(venv .. "/bin/python") or "python"
      ),
    }
  elseif why and (why:find("usage:", 1, true) or why:find("unrecognized arguments", 1, true)) then
    advice = { ("Check the arguments in `cmd` (%s)"):format(table.concat(cfg.cmd, " ")) }
  else
    advice = { "Its stderr is in the LSP log: :WingmanLog" }
  end
  return { problem = problem, advice = advice }
end

local function model_path(cfg)
  local settings = cfg and cfg.settings or {}
  return settings.model and settings.model.path or "default"
end

--- A model that did not load (the server's message): {kind, problem, advice}.
--- kind: "not_pulled" (the default model), "wrong_path" (settings.model.path), "other".
function M.for_model(cfg, message)
  message = message or ""
  local path = model_path(cfg)
  if message:find("not pulled", 1, true) or (path == "default" and message:find("wingman model pull", 1, true)) then
    return {
      kind = "not_pulled",
      problem = "the default model is not pulled yet",
      advice = { ("Run `%s` (once; ~100 MB)"):format(M.pull_command(cfg)), "Or set `settings.model.path` to a checkpoint directory or .gguf file" },
    }
  end
  if path ~= "default" then
    return {
      kind = "wrong_path",
      problem = ("the model at `settings.model.path` = %s could not be loaded"):format(path),
      advice = {
        "Point `settings.model.path` at a Hugging Face checkpoint directory (with config.json) or a .gguf file, "
          .. "or \"default\" for the pulled model; then :WingmanRestart, or "
          .. "require('wingman').configure({ model = { path = ... } })",
      },
    }
  end
  return { kind = "other", problem = "the model could not be loaded", advice = { "Details in :WingmanLog" } }
end

--- The server's message about a failed load, with its generic fix replaced by this client's.
function M.rewrite_model_message(cfg, message)
  if type(message) ~= "string" or not message:find("could not load the model", 1, true) then
    return message
  end
  local a = M.for_model(cfg, message)
  local text = message:gsub("%s*Fix: run `wingman model pull`.*$", "")
  if a.kind == "not_pulled" then
    if not text:find("[.!?]$") then
      text = text .. "."
    end
    text = text:gsub("`wingman model pull`", "`" .. M.pull_command(cfg) .. "`")
    if not text:find(M.pull_command(cfg), 1, true) then
      text = text .. " Run `" .. M.pull_command(cfg) .. "`."
    end
    return text
  end
  -- Not the default model: the path is what to fix, not a pull.
  text = text:gsub("%s*Run `wingman model pull`[^.]*%.", "")
  if not text:find("[.!?]$") then
    text = text .. "."
  end
  return text .. " " .. a.advice[1] .. "."
end

return M
