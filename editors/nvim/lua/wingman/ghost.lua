-- Ghost text from textDocument/inlineCompletion for Neovim 0.11, which has no built-in for it
-- (0.12's vim.lsp.inline_completion replaces this module there; see init.lua).
--
-- One request in flight per buffer: a keystroke cancels the previous one. An answer is shown only
-- if the buffer and cursor have not moved since it was asked for; it is drawn with one extmark:
-- the rest of the first line inline at the cursor, further lines as virtual lines below.
local api = vim.api
local M = {}

local ns = api.nvim_create_namespace("wingman.ghost")
M.ns = ns

local METHOD = "textDocument/inlineCompletion"
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

---@class wingman.GhostState
---@field timer uv.uv_timer_t?
---@field request {client: vim.lsp.Client, id: integer}?
---@field items table[]      the server's items
---@field index integer      the one shown
---@field anchor {tick: integer, row: integer, col: integer}?  where the items were asked for
---@field extmark integer?
local states = {} ---@type table<integer, wingman.GhostState>

M.opts = { debounce_ms = 20, hl_group = "WingmanGhostText", client_name = "wingman" }
M.enabled = true

local function state(bufnr)
  local s = states[bufnr]
  if not s then
    s = { items = {}, index = 1 }
    states[bufnr] = s
  end
  return s
end

local function client_for(bufnr)
  for _, c in ipairs(vim.lsp.get_clients({ bufnr = bufnr, name = M.opts.client_name })) do
    if not c:is_stopped() then
      return c
    end
  end
end

--- Byte column on `row` of a buffer for an LSP position in `encoding`.
local function byte_col(bufnr, row, character, encoding)
  local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  return ok and col or math.min(character, #line)
end

local function clear_mark(bufnr, s)
  if s.extmark then
    pcall(api.nvim_buf_del_extmark, bufnr, ns, s.extmark)
    s.extmark = nil
  end
end

local function cancel_request(s)
  if s.request then
    pcall(function()
      s.request.client:cancel_request(s.request.id)
    end)
    s.request = nil
  end
end

--- Forget the shown suggestion (the server's items stay cancelled too).
function M.dismiss(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = states[bufnr]
  if not s then
    return
  end
  cancel_request(s)
  if s.timer then
    s.timer:stop()
  end
  clear_mark(bufnr, s)
  s.items, s.index, s.anchor = {}, 1, nil
end

--- The text of `item` still to be typed at the cursor: insertText without the part of its range
--- that is already in the buffer before the cursor. nil if the item does not fit the cursor.
local function visible_text(bufnr, client, item, row, col)
  local text = type(item.insertText) == "table" and item.insertText.value or item.insertText
  if type(text) ~= "string" or text == "" then
    return nil
  end
  if item.range then
    local srow = item.range.start.line
    if srow ~= row then
      return nil
    end
    local scol = byte_col(bufnr, srow, item.range.start.character, client.offset_encoding)
    local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
    local typed = line:sub(scol + 1, col)
    if scol > col or text:sub(1, #typed) ~= typed then
      return nil
    end
    text = text:sub(#typed + 1)
  end
  if text == "" then
    return nil
  end
  return text
end

local function render(bufnr, s)
  clear_mark(bufnr, s)
  local item = s.items[s.index]
  local client = s.client
  if not item or not client or not s.anchor then
    return
  end
  local row, col = s.anchor.row, s.anchor.col
  local text = visible_text(bufnr, client, item, row, col)
  if not text then
    return
  end
  local lines = vim.split(text, "\n", { plain = true })
  local hl = M.opts.hl_group
  local first = { { lines[1], hl } }
  if #s.items > 1 then
    table.insert(first, { (" (%d/%d)"):format(s.index, #s.items), hl })
  end
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i] ~= "" and lines[i] or " ", hl } }
  end
  s.extmark = api.nvim_buf_set_extmark(bufnr, ns, row, col, {
    virt_text = first,
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
  })
  vim.api.nvim_exec_autocmds("User", { pattern = "WingmanGhostText", modeline = false })
end

local function cursor_anchor(bufnr)
  local win = vim.fn.bufwinid(bufnr)
  if win == -1 then
    return nil
  end
  local pos = api.nvim_win_get_cursor(win)
  return { tick = api.nvim_buf_get_changedtick(bufnr), row = pos[1] - 1, col = pos[2] }
end

local function same_anchor(a, b)
  return a and b and a.tick == b.tick and a.row == b.row and a.col == b.col
end

--- Ask the server for suggestions at the cursor now.
---@param bufnr integer
---@param trigger integer|nil 1 = invoked by the user, 2 = automatic (typing)
function M.request(bufnr, trigger)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = state(bufnr)
  local client = client_for(bufnr)
  if not client or not M.enabled then
    return
  end
  cancel_request(s)
  local anchor = cursor_anchor(bufnr)
  if not anchor then
    return
  end
  local win = vim.fn.bufwinid(bufnr)
  local params = vim.lsp.util.make_position_params(win, client.offset_encoding)
  params.context = { triggerKind = trigger or TRIGGER_AUTOMATIC }
  local ok, id
  ok, id = client:request(METHOD, params, function(err, result)
    if s.request and s.request.id == id then
      s.request = nil
    end
    if err or not result then
      if err and err.code ~= -32800 then -- -32800: cancelled, as asked
        vim.lsp.log.warn("wingman inlineCompletion", err)
      end
      return
    end
    -- Drop an answer for a buffer or cursor that has moved on since it was asked for.
    if not same_anchor(anchor, cursor_anchor(bufnr)) or api.nvim_get_mode().mode:sub(1, 1) ~= "i" then
      return
    end
    local items = result.items or result
    if type(items) ~= "table" or #items == 0 then
      return
    end
    s.items, s.index, s.anchor, s.client = items, 1, anchor, client
    render(bufnr, s)
  end, bufnr)
  if ok then
    s.request = { client = client, id = id }
  end
end

--- Typing: drop the shown suggestion and ask again after a short pause.
function M.on_text_changed(bufnr)
  local s = state(bufnr)
  clear_mark(bufnr, s)
  s.items, s.anchor = {}, nil
  if not M.enabled then
    return
  end
  s.timer = s.timer or vim.uv.new_timer()
  s.timer:stop()
  s.timer:start(
    M.opts.debounce_ms,
    0,
    vim.schedule_wrap(function()
      if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr then
        M.request(bufnr, TRIGGER_AUTOMATIC)
      end
    end)
  )
end

function M.visible(bufnr)
  local s = states[bufnr or api.nvim_get_current_buf()]
  return s ~= nil and s.extmark ~= nil
end

--- The shown suggestion's text (what accepting would add at the cursor), for tests and statuslines.
function M.text(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = states[bufnr]
  if not (s and s.extmark and s.anchor) then
    return nil
  end
  return visible_text(bufnr, s.client, s.items[s.index], s.anchor.row, s.anchor.col)
end

--- Insert the shown suggestion (all of it, or only its first line), then tell the server.
---@param bufnr integer|nil
---@param only_line boolean|nil
---@return boolean accepted
function M.accept(bufnr, only_line)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = states[bufnr]
  if not (s and s.extmark and s.anchor) then
    return false
  end
  local item, client, anchor = s.items[s.index], s.client, s.anchor
  local text = visible_text(bufnr, client, item, anchor.row, anchor.col)
  M.dismiss(bufnr)
  if not text then
    return false
  end
  local partial = false
  if only_line then
    local nl = text:find("\n", 1, true)
    if nl then
      text, partial = text:sub(1, nl - 1), true
      if text == "" then -- the first line is empty: take the line break instead
        text = "\n"
      end
    end
  end
  -- Insert at the cursor: the part of the item's range before the cursor is already typed. If the
  -- range reaches past the cursor (the item replaces text after it), remove that part as well.
  local end_col = anchor.col
  if item.range and not partial and item.range["end"].line == anchor.row then
    local ecol = byte_col(bufnr, anchor.row, item.range["end"].character, client.offset_encoding)
    if ecol > end_col then
      end_col = ecol
    end
  end
  local lines = vim.split(text, "\n", { plain = true })
  api.nvim_buf_set_text(bufnr, anchor.row, anchor.col, anchor.row, end_col, lines)
  local last_row = anchor.row + #lines - 1
  local last_col = (#lines == 1 and anchor.col or 0) + #lines[#lines]
  local win = vim.fn.bufwinid(bufnr)
  if win ~= -1 then
    api.nvim_win_set_cursor(win, { last_row + 1, last_col })
  end
  if item.command and not partial then
    client:request("workspace/executeCommand", {
      command = item.command.command,
      arguments = item.command.arguments,
    }, function() end, bufnr)
  end
  return true
end

--- Show the next (or previous) suggestion of those the server gave; with none shown, ask for one
--- now (the server gives one per request: its model decodes greedily).
function M.cycle(bufnr, delta)
  bufnr = bufnr or api.nvim_get_current_buf()
  local s = states[bufnr]
  if not (s and s.extmark) then
    M.request(bufnr, TRIGGER_INVOKED)
    return
  end
  if #s.items > 1 then
    s.index = (s.index - 1 + delta) % #s.items + 1
    render(bufnr, s)
  else
    -- A typing request brings one candidate; the server computes alternatives for an
    -- explicit one (as VS Code asks when it cycles).
    M.request(bufnr, TRIGGER_INVOKED)
  end
end

--- Ghost text for one buffer: autocmds that ask, move on, and clean up.
function M.attach(bufnr)
  local group = api.nvim_create_augroup("wingman.ghost." .. bufnr, { clear = true })
  api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.on_text_changed(bufnr)
    end,
  })
  api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = states[bufnr]
      if s and s.anchor and not same_anchor(s.anchor, cursor_anchor(bufnr)) then
        M.dismiss(bufnr)
      end
    end,
  })
  api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd("BufWipeout", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
      local s = states[bufnr]
      if s and s.timer then
        s.timer:close()
      end
      states[bufnr] = nil
    end,
  })
end

function M.detach(bufnr)
  M.dismiss(bufnr)
  pcall(api.nvim_del_augroup_by_name, "wingman.ghost." .. bufnr)
end

return M
