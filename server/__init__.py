"""Wingman's language server (pygls 2): inline completion, code actions, commands and hints over
the engine in model/. The wire contract is PROTOCOL.md; `wingman serve` starts it."""
