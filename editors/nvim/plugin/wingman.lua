-- Nothing starts until require("wingman").setup{...} (lazy.nvim: `opts = {}`).
if vim.g.loaded_wingman then
  return
end
vim.g.loaded_wingman = true
