-- Wingman for Neovim: starts `wingman serve` for the configured filetypes, shows ghost text,
-- and exposes the server's commands. Usage (lazy.nvim): { dir = ".../editors/nvim", opts = {...} }.
local api = vim.api
local config = require("wingman.config")
local ghost = require("wingman.ghost")
local advice = require("wingman.advice")

local M = {}

M.name = "wingman"
M.cfg = nil ---@type table|nil  the resolved options, once setup() ran
-- The last wingman/status the server sent: {state = "loading"|"ready"|"error", message, model,
-- progress = {step, percentage} while loading}.
M.status = { state = "stopped", message = "not started" }
-- Requests the server says are slow (wingman/busy), by document URI: {busy, reason, message, elapsedMs}.
M.busy = {} ---@type table<string, table>
M.errors = {} ---@type string[]  messages shown to the user, newest last (for :checkhealth and tests)

local function notify(msg, level)
  msg = "Wingman: " .. msg
  table.insert(M.errors, msg)
  vim.schedule(function()
    vim.notify(msg, level or vim.log.levels.ERROR, { title = "Wingman" })
  end)
end

local function set_status(status)
  M.status = status
  vim.schedule(function()
    api.nvim_exec_autocmds("User", { pattern = "WingmanStatus", modeline = false, data = status })
  end)
end

--- Whether Neovim's own inline completion (0.12+) is used instead of ours.
function M.use_builtin()
  local want = M.cfg and M.cfg.ghost_text.builtin
  local has = vim.lsp.inline_completion ~= nil and vim.lsp.inline_completion.enable ~= nil
  if want == "auto" or want == nil then
    return has
  end
  return want == true and has
end

function M.client(bufnr)
  local clients = vim.lsp.get_clients({ name = M.name, bufnr = bufnr })
  return clients[1]
end

---------------------------------------------------------------------------------------------------
-- Starting the server

local warned_cmd = false

local function check_cmd(cfg)
  local a = advice.for_cmd(cfg)
  if not a then
    return nil
  end
  return ("cannot start the server: %s. %s; see :checkhealth wingman"):format(a.problem, a.advice[1])
end

local handlers = {}
M.handlers = handlers -- the server's notifications and requests this plugin handles (tests call them)

handlers["wingman/status"] = function(_, params)
  if type(params) ~= "table" then
    return
  end
  if params.state ~= "loading" then
    params.progress = nil
  end
  set_status(params)
  -- The server also shows an error with window/showMessage (Neovim's handler notifies it), so
  -- only remember it here for :WingmanStatus and :checkhealth.
  if params.state == "error" then
    table.insert(M.errors, "Wingman: " .. advice.rewrite_model_message(M.cfg, params.message or "the model could not be loaded"))
  end
end

-- The server's messages about a model that did not load end with a generic fix; say instead what
-- fixes it here (the pull command with this plugin's environment, or the model path).
handlers["window/showMessage"] = function(err, params, ctx, cfg)
  if type(params) == "table" and type(params.message) == "string" then
    params = vim.tbl_extend("force", params, { message = advice.rewrite_model_message(M.cfg, params.message) })
  end
  return vim.lsp.handlers["window/showMessage"](err, params, ctx, cfg)
end

---------------------------------------------------------------------------------------------------
-- Busy: the server says a suggestion is slow to come (wingman/busy, server/PROTOCOL.md)

local busy_ns = api.nvim_create_namespace("wingman.busy")
M.busy_ns = busy_ns
local busy_mark ---@type {buf: integer, id: integer}|nil

local function clear_busy_hint()
  if busy_mark then
    pcall(api.nvim_buf_del_extmark, busy_mark.buf, busy_ns, busy_mark.id)
    busy_mark = nil
  end
end

local function busy_text(b)
  if b.message and b.message ~= "" then
    return b.message
  end
  return ({ loading = "waiting for the model to load", busy = "the machine is busy" })[b.reason] or "thinking…"
end

local function show_busy_hint(params)
  clear_busy_hint()
  if not (params.busy and M.cfg and M.cfg.busy and M.cfg.busy.virtual_text) then
    return
  end
  local buf = vim.fn.bufnr(vim.uri_to_fname(params.uri))
  if buf ~= api.nvim_get_current_buf() or api.nvim_get_mode().mode:sub(1, 1) ~= "i" then
    return
  end
  local row, col = unpack(api.nvim_win_get_cursor(0))
  busy_mark = {
    buf = buf,
    id = api.nvim_buf_set_extmark(buf, busy_ns, row - 1, col, {
      virt_text = { { " ⋯ " .. busy_text(params), M.cfg.busy.hl_group or "WingmanBusy" } },
      virt_text_pos = "inline",
      hl_mode = "combine",
    }),
  }
end

handlers["wingman/busy"] = function(_, params)
  if type(params) ~= "table" or type(params.uri) ~= "string" then
    return
  end
  M.busy[params.uri] = params.busy and params or nil
  show_busy_hint(params)
  vim.schedule(function()
    api.nvim_exec_autocmds("User", { pattern = "WingmanStatus", modeline = false, data = M.status })
  end)
end

--- The busy request to show: the current buffer's, else any.
function M.busy_now()
  local here = M.busy[vim.uri_from_bufnr(api.nvim_get_current_buf())]
  return here or select(2, next(M.busy))
end

-- The server creates files (generated tests, translations) through workspace/applyEdit: apply it
-- as Neovim does, and remember what was created (for :WingmanStatus and tests).
handlers["workspace/applyEdit"] = function(err, params, ctx, cfg)
  local result = vim.lsp.handlers["workspace/applyEdit"](err, params, ctx, cfg)
  local created = {}
  local changes = params and params.edit and params.edit.documentChanges or {}
  for _, change in ipairs(changes) do
    if change.kind == "create" then
      created[#created + 1] = vim.uri_to_fname(change.uri)
    end
  end
  if #created > 0 then
    M.last_created = created
    -- Save what was created: a generated file left unsaved is lost on :qa!, and tools (test
    -- runners, git) only see what is on disk.
    for _, fname in ipairs(created) do
      local buf = vim.fn.bufnr(fname)
      if buf ~= -1 and api.nvim_buf_is_loaded(buf) and vim.bo[buf].modified then
        local ok, e = pcall(api.nvim_buf_call, buf, function()
          vim.cmd("silent keepalt write!")
        end)
        if not ok then
          notify(("could not save %s: %s"):format(fname, e))
        end
      end
    end
  end
  return result
end

-- Then it shows them with window/showDocument: open another file in a split (Neovim's own
-- handler would replace the source in the current window), or go to the window showing it.
handlers["window/showDocument"] = function(err, params, ctx, cfg)
  if err or not params or params.external or not (M.cfg and M.cfg.show_in_split) then
    return vim.lsp.handlers["window/showDocument"](err, params, ctx, cfg)
  end
  local fname = vim.uri_to_fname(params.uri)
  local from = api.nvim_get_current_win()
  local buf = vim.fn.bufnr(fname)
  local win = buf ~= -1 and vim.fn.bufwinid(buf) or -1
  if win ~= -1 then
    api.nvim_set_current_win(win)
  else
    vim.cmd.split(vim.fn.fnameescape(fname))
  end
  if params.selection then
    local client = vim.lsp.get_client_by_id(ctx.client_id)
    local pos = params.selection.start
    local line = api.nvim_buf_get_lines(0, pos.line, pos.line + 1, false)[1] or ""
    local ok, col = pcall(vim.str_byteindex, line, client and client.offset_encoding or "utf-16", pos.character, false)
    pcall(api.nvim_win_set_cursor, 0, { pos.line + 1, ok and col or 0 })
  end
  M.last_shown = fname
  -- A file the server just created (tests, a translation) is where the user goes next: keep the
  -- cursor there. Anything else follows takeFocus.
  local created = M.last_created and vim.tbl_contains(M.last_created, fname)
  if params.takeFocus == false and not created then
    api.nvim_set_current_win(from)
  end
  return { success = true }
end

local function on_attach(client, bufnr)
  if M.use_builtin() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  elseif M.cfg.ghost_text.enabled then
    ghost.attach(bufnr)
  end
end

--- The most telling line the server wrote to stderr lately (Neovim logs it in the LSP log).
function M.stderr_tail()
  local f = io.open(vim.lsp.get_log_path(), "rb")
  if not f then
    return nil
  end
  local size = f:seek("end")
  f:seek("set", math.max(0, size - 65536))
  local data = f:read("*a")
  f:close()
  local text = {}
  for line in data:gmatch("[^\n]+") do
    local payload = line:match('"stderr"%s+(.+)$')
    if payload and M.cfg and line:find(M.cfg.cmd[1], 1, true) then
      payload = payload:gsub('^"(.*)"$', "%1"):gsub("^'(.*)'$", "%1"):gsub("\\n", "\n")
      text[#text + 1] = payload
    end
  end
  local last
  for l in table.concat(text):gmatch("[^\n]+") do
    if l:find("Error") or l:find("error:") or l:find("Exception") then
      last = l
    end
  end
  return last and vim.trim(last)
end

-- Neovim reports a client that exits with an error itself ("Client wingman quit with exit code 1
-- and signal 0. Check log for errors: ..."), two main-loop turns after on_exit. Ours says why and
-- what to do, so drop that one: vim.notify is wrapped for exactly those two turns.
local function drop_builtin_exit_message()
  local inner = vim.notify
  local function filter(msg, ...)
    if type(msg) == "string" and msg:find("^Client " .. vim.pesc(M.name) .. " quit with exit code") then
      return
    end
    return inner(msg, ...)
  end
  vim.notify = filter
  vim.schedule(function()
    vim.schedule(function()
      if vim.notify == filter then
        vim.notify = inner
      end
    end)
  end)
end

local function handle_exit(code, signal, client_id)
  M.busy = {}
  clear_busy_hint()
  if (code ~= 0 or (signal ~= 0 and signal ~= 15)) and not M._stopping then
    drop_builtin_exit_message()
    local why = M.stderr_tail()
    local client = vim.lsp.get_client_by_id(client_id)
    if client and not client.initialized then
      local a = advice.for_crash(M.cfg, code, why)
      set_status({ state = "error", message = a.problem })
      notify(("%s. %s; more in :checkhealth wingman"):format(a.problem, a.advice[1]))
    else
      set_status({ state = "error", message = ("server exited with code %d%s"):format(code, why and (": " .. why) or "") })
      notify(
        ("the server stopped (exit code %d)%s. Its stderr is in the LSP log (:WingmanLog); "
          .. ":WingmanRestart starts it again"):format(code, why and (": " .. why) or "")
      )
    end
  else
    set_status({ state = "stopped", message = "server stopped" })
  end
end

-- Neovim 0.12 runs on_exit in a fast event context (no API calls): handle it on the main loop.
-- Scheduled from here, it runs after Neovim's first scheduled step and before the one that
-- notifies, so the filter above is in place in time.
local function on_exit(code, signal, client_id)
  local stopping = M._stopping
  vim.schedule(function()
    local saved = M._stopping
    M._stopping = stopping
    handle_exit(code, signal, client_id)
    M._stopping = saved
  end)
end

--- Start (or reuse) the server for a buffer.
function M.attach(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local cfg = M.cfg
  if not cfg or vim.bo[bufnr].buftype ~= "" then
    return
  end
  local problem = check_cmd(cfg)
  if problem then
    set_status({ state = "error", message = problem })
    if not warned_cmd then
      warned_cmd = true
      notify(problem)
    end
    return
  end
  local root = vim.fs.root(bufnr, cfg.root_markers) or vim.fs.dirname(api.nvim_buf_get_name(bufnr))
  local capabilities = vim.lsp.protocol.make_client_capabilities()
  capabilities.textDocument.inlineCompletion = capabilities.textDocument.inlineCompletion
    or { dynamicRegistration = false }
  if M.status.state == "stopped" then
    set_status({ state = "starting", message = "starting the server" })
  end
  local ok, id = pcall(vim.lsp.start, {
    name = M.name,
    cmd = cfg.cmd,
    cmd_env = cfg.env,
    root_dir = root,
    init_options = config.init_options(cfg),
    capabilities = capabilities,
    handlers = handlers,
    on_attach = on_attach,
    on_exit = on_exit,
  }, { bufnr = bufnr })
  if not ok or not id then
    local problem2 = ("cannot start the server with `%s`: %s"):format(table.concat(cfg.cmd, " "), tostring(id))
    set_status({ state = "error", message = problem2 })
    notify(problem2)
  end
  return id
end

---------------------------------------------------------------------------------------------------
-- Commands

local function exec(bufnr, command, arguments, what)
  local client = M.client(bufnr)
  if not client then
    notify("no Wingman server for this buffer (:WingmanStatus)")
    return
  end
  vim.notify(("Wingman: %s…"):format(what), vim.log.levels.INFO)
  M.last_created = nil
  client:request("workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      notify(("%s failed: %s"):format(what, err.message or vim.inspect(err)))
    end
    -- A created file the server did not show (no window/showDocument): open it here.
    local created = M.last_created and M.last_created[1]
    if created and M.cfg.show_in_split and vim.fn.bufwinid(vim.fn.bufnr(created)) == -1 then
      vim.cmd.split(vim.fn.fnameescape(created))
      M.last_shown = created
    end
    M.last_result = { command = command, err = err, result = result }
    api.nvim_exec_autocmds("User", { pattern = "WingmanCommandDone", modeline = false })
  end, bufnr)
end

--- Run a server command that takes (uri, cursor position), as generateTests and codeFromComment do.
local function exec_at_cursor(bufnr, command, title)
  bufnr = bufnr or api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    return exec(bufnr)
  end
  local position = vim.lsp.util.make_position_params(0, client.offset_encoding).position
  exec(bufnr, command, { vim.uri_from_bufnr(bufnr), position }, title)
end

function M.generate_tests(bufnr)
  exec_at_cursor(bufnr, "wingman.generateTests", "generating tests")
end

function M.code_from_comment(bufnr)
  exec_at_cursor(bufnr, "wingman.codeFromComment", "writing code")
end

--- Translate lines line1..line2 (or the last visual selection, when it spans them) to `lang`.
function M.translate(lang, line1, line2, bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  if not vim.tbl_contains(config.languages, lang) then
    notify(("cannot translate to %q; choose one of %s"):format(tostring(lang), table.concat(config.languages, ", ")))
    return
  end
  local client = M.client(bufnr)
  if not client then
    return exec(bufnr)
  end
  local range
  local vs, ve = api.nvim_buf_get_mark(bufnr, "<"), api.nvim_buf_get_mark(bufnr, ">")
  if vs[1] == line1 and ve[1] == line2 and vs[1] > 0 then
    local ve_line = api.nvim_buf_get_lines(bufnr, ve[1] - 1, ve[1], false)[1] or ""
    ve = { ve[1], math.min(ve[2], math.max(#ve_line - 1, 0)) }
    range = vim.lsp.util.make_given_range_params(vs, ve, bufnr, client.offset_encoding).range
  else
    local last = api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ""
    range = {
      start = { line = line1 - 1, character = 0 },
      ["end"] = { line = line2 - 1, character = vim.str_utfindex(last, client.offset_encoding) },
    }
  end
  exec(bufnr, "wingman.translate", { vim.uri_from_bufnr(bufnr), range, lang }, "translating to " .. lang)
end

--- Change settings (merged into setup's `settings`) and send them to running servers.
function M.configure(settings)
  M.cfg.settings = vim.tbl_deep_extend("force", M.cfg.settings or {}, settings or {})
  local options = config.init_options(M.cfg)
  for _, client in ipairs(vim.lsp.get_clients({ name = M.name })) do
    client:notify("workspace/didChangeConfiguration", { settings = options })
  end
end

function M.toggle()
  local on = not ghost.enabled
  ghost.enabled = on
  if not on then
    ghost.dismiss()
  end
  if M.use_builtin() then
    vim.lsp.inline_completion.enable(on)
  end
  M.configure({ completion = { enabled = on } })
  vim.notify("Wingman: inline completion " .. (on and "on" or "off"), vim.log.levels.INFO)
end

--- A short state for your statusline, e.g. `vim.o.statusline = "%f %=%{v:lua.require'wingman'.statusline()}"`:
--- "Wingman: thinking…" (or the server's busy message) while a suggestion is slow to come,
--- "Wingman: loading 62%", "Wingman: ready", "Wingman: off" (inline completion toggled off),
--- "Wingman: error", "Wingman: starting", "Wingman: stopped".
function M.statusline()
  local b = M.busy_now()
  if b then
    return "Wingman: " .. busy_text(b)
  end
  local s = M.status
  if s.state == "loading" then
    local pct = type(s.progress) == "table" and tonumber(s.progress.percentage)
    return pct and ("Wingman: loading %d%%"):format(pct) or "Wingman: loading"
  elseif s.state == "ready" then
    return ghost.enabled and "Wingman: ready" or "Wingman: off"
  end
  return ("Wingman: %s"):format(s.state)
end

-- Keymaps: the suggestion keys work whichever ghost text is in use.
local function accept(only_line)
  if M.use_builtin() then
    return vim.lsp.inline_completion.get()
  end
  return ghost.accept(nil, only_line)
end

local function cycle(delta)
  if M.use_builtin() then
    local select = vim.lsp.inline_completion.select or vim.lsp.inline_completion.jump
    return select and select({ count = delta })
  end
  ghost.cycle(nil, delta)
end

local function feed(key)
  api.nvim_feedkeys(api.nvim_replace_termcodes(key, true, false, true), "n", false)
end

local function set_keymaps(keys)
  local function map(lhs, fn, desc)
    if lhs then
      vim.keymap.set("i", lhs, fn, { desc = desc, silent = true })
    end
  end
  map(keys.accept, function()
    if not accept(false) then
      feed(keys.accept)
    end
  end, "Wingman: accept the suggestion")
  map(keys.accept_line, function()
    if not accept(true) then
      feed(keys.accept_line)
    end
  end, "Wingman: accept the suggestion's first line")
  map(keys.next, function()
    cycle(1)
  end, "Wingman: next suggestion")
  map(keys.prev, function()
    cycle(-1)
  end, "Wingman: previous suggestion")
  map(keys.dismiss, function()
    if ghost.visible() then
      ghost.dismiss()
    else
      feed(keys.dismiss)
    end
  end, "Wingman: dismiss the suggestion")
end

local function create_commands()
  local cmd = api.nvim_create_user_command
  cmd("WingmanGenerateTests", function()
    M.generate_tests()
  end, { desc = "Wingman: generate tests for the function under the cursor" })
  cmd("WingmanCodeFromComment", function()
    M.code_from_comment()
  end, { desc = "Wingman: write code for the comment under the cursor" })
  cmd("WingmanTranslate", function(o)
    M.translate(o.args, o.line1, o.line2)
  end, {
    nargs = 1,
    range = "%",
    complete = function(lead)
      return vim.tbl_filter(function(l)
        return l:find(lead, 1, true) == 1
      end, config.languages)
    end,
    desc = "Wingman: translate the selection (or file) to {language}",
  })
  cmd("WingmanToggle", M.toggle, { desc = "Wingman: toggle inline completion" })
  cmd("WingmanLearn", function(o)
    -- The server runs `wingman learn` on the workspace (or the given folder) with $/progress,
    -- and swaps to the new adapter only if it wins on held-out files.
    local args = o.args ~= "" and { { root = vim.fn.fnamemodify(o.args, ":p") } } or {}
    exec(api.nvim_get_current_buf(), "wingman.learn", args, "learning this repository")
  end, { nargs = "?", complete = "dir", desc = "Wingman: learn this repository" })
  cmd("WingmanDeleteAcceptanceLog", function()
    exec(api.nvim_get_current_buf(), "wingman.deleteAcceptanceLog", {}, "deleting the acceptance log")
  end, { desc = "Wingman: delete the local acceptance log" })
  cmd("WingmanStatus", function()
    local s = M.status
    local p = type(s.progress) == "table" and s.progress
    vim.notify(("Wingman: %s%s%s%s"):format(
      s.state,
      s.model and (" · " .. s.model) or "",
      s.message and (" · " .. s.message) or "",
      p and (" · %s %s%%"):format(p.step or "", p.percentage or "?") or ""
    ))
  end, { desc = "Wingman: show the server's state" })
  cmd("WingmanLog", function()
    vim.cmd.split(vim.fn.fnameescape(vim.lsp.get_log_path()))
  end, { desc = "Wingman: open the LSP log (the server's stderr)" })
  cmd("WingmanRestart", function()
    M._stopping = true
    for _, c in ipairs(vim.lsp.get_clients({ name = M.name })) do
      c:stop(true)
    end
    M._stopping = false
    M.status = { state = "stopped", message = "restarting" }
    vim.defer_fn(function()
      for _, b in ipairs(api.nvim_list_bufs()) do
        if api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.cfg.filetypes, vim.bo[b].filetype) then
          M.attach(b)
        end
      end
    end, 100)
  end, { desc = "Wingman: restart the server" })
end

---@param opts table|nil see lua/wingman/config.lua
function M.setup(opts)
  M.cfg = config.resolve(opts)
  ghost.opts.debounce_ms = M.cfg.ghost_text.debounce_ms
  ghost.opts.hl_group = M.cfg.ghost_text.hl_group
  ghost.opts.client_name = M.name
  ghost.enabled = M.cfg.ghost_text.enabled
  api.nvim_set_hl(0, "WingmanGhostText", { link = "Comment", default = true })
  api.nvim_set_hl(0, "WingmanBusy", { link = "NonText", default = true })
  create_commands()
  if M.cfg.keymaps then
    set_keymaps(M.cfg.keymaps)
  end
  local group = api.nvim_create_augroup("wingman", { clear = true })
  api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.cfg.filetypes,
    callback = function(ev)
      M.attach(ev.buf)
    end,
  })
  -- The busy hint belongs to the cursor it was drawn at.
  api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, { group = group, callback = clear_busy_hint })
  api.nvim_create_autocmd("User", { group = group, pattern = "WingmanGhostText", callback = clear_busy_hint })
  api.nvim_create_autocmd("VimLeavePre", {
    group = group,
    callback = function()
      M._stopping = true
    end,
  })
  -- Buffers already open when setup() runs late (lazy loading).
  for _, b in ipairs(api.nvim_list_bufs()) do
    if api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.cfg.filetypes, vim.bo[b].filetype) then
      M.attach(b)
    end
  end
end

return M
