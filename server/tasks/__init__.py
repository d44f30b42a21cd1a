"""What the commands do, apart from LSP: prompts, Python source analysis, test files, sandbox."""
