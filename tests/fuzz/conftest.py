import sys
from pathlib import Path

# raw_lsp (the byte-level stdio client) lives with the server tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
