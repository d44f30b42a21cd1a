-- Options of require("wingman").setup{...}, their defaults, and how they become the server's
-- initializationOptions (camelCase, as server/PROTOCOL.md names them).
local M = {}

M.languages = { "python", "javascript", "typescript", "java", "cpp", "go", "rust" }

M.defaults = {
  -- How to start the server. nil: <venv>/bin/wingman if `venv` is set, else `wingman` on $PATH.
  cmd = nil, ---@type string[]|nil
  venv = nil, ---@type string|nil  a Python virtual environment with Wingman installed
  -- Extra environment for the server (vim.lsp.start's cmd_env), e.g. { WINGMAN_HOME = "~/models" }
  -- for where `wingman model pull` put the model. Messages that advise a pull name it.
  env = nil, ---@type table<string,string>|nil
  filetypes = { "python", "javascript", "typescript", "java", "cpp", "c", "go", "rust" },
  root_markers = { ".git", "pyproject.toml", "setup.py", "package.json", "Cargo.toml", "go.mod" },
  -- Sent as initializationOptions, and again with workspace/didChangeConfiguration on configure().
  -- Keys as in the server's protocol: model = {backend, path, adapter, device, quantize, remoteUrl,
  -- remoteModel}, completion = {enabled, mode, maxTokens, debounceMs, promptBudget}, diagnostics =
  -- {...}, languages, ignore, telemetry, actions, fakeEngine (tests only).
  settings = {},
  ghost_text = {
    enabled = true,
    -- Ask the server this long after the last keystroke (the server debounces again per document).
    debounce_ms = 20,
    -- "auto": Neovim's built-in vim.lsp.inline_completion where it exists (0.12+), else ours.
    builtin = "auto", ---@type "auto"|boolean
    hl_group = "WingmanGhostText",
  },
  -- Insert-mode keys; set one to false to leave that key alone. <Tab> falls back to a plain Tab
  -- when no suggestion is shown.
  keymaps = {
    accept = "<Tab>",
    accept_line = "<M-l>",
    next = "<M-]>",
    prev = "<M-[>",
    dismiss = "<C-]>",
  },
  -- Open files the server creates (generated tests, translations) in a split, and go there.
  show_in_split = true,
  -- While a suggestion is slow to come (the server's wingman/busy notification), the statusline
  -- component says why; with virtual_text, a hint is drawn at the cursor too.
  busy = {
    virtual_text = false,
    hl_group = "WingmanBusy",
  },
}

---@param opts table|nil
---@return table
function M.resolve(opts)
  local cfg = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  if not cfg.cmd then
    if cfg.venv then
      cfg.cmd = { vim.fs.joinpath(vim.fs.normalize(cfg.venv), "bin", "wingman"), "serve" }
    else
      cfg.cmd = { "wingman", "serve" }
    end
  end
  if cfg.env then
    local env = {}
    for k, v in pairs(cfg.env) do
      env[k] = (k == "WINGMAN_HOME" and type(v) == "string") and vim.fs.normalize(v) or v
    end
    cfg.env = env
  end
  return cfg
end

--- The initializationOptions for a resolved config.
---@param cfg table
---@return table
function M.init_options(cfg)
  local o = vim.deepcopy(cfg.settings or {})
  o.completion = o.completion or {}
  -- This plugin shows inline completions itself, so the server must not also push them through
  -- textDocument/completion (the fallback for editors without inline completion).
  if o.completion.fallback == nil then
    o.completion.fallback = "off"
  end
  if o.completion.enabled == nil then
    o.completion.enabled = cfg.ghost_text.enabled
  end
  -- vim.json encodes an empty Lua table as [], not {}.
  for _, key in ipairs({ "model", "diagnostics", "telemetry", "actions" }) do
    if o[key] ~= nil and vim.tbl_isempty(o[key]) then
      o[key] = vim.empty_dict()
    end
  end
  return o
end

return M
