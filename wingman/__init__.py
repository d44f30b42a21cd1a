"""The `wingman` command: the entry layer above the three libraries (model, server, training).

Only this package parses command lines; the libraries expose functions and configs. Nothing
below it imports it (checked by the import contracts in pyproject.toml).
"""
