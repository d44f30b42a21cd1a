"""The server's settings: one defaulted dataclass tree, read from camelCase JSON.

They arrive as `initializationOptions` and again with `workspace/didChangeConfiguration`
(`settings.wingman`, or the settings object itself). Every key is optional. The tree is read by
model/configs.py, field by field: a key we do not know, or a value of the wrong type or out of
range, is reported by name with what was expected (the server shows it with
`window/showMessage`), and the default — or, on a change, the current value — is kept while the
other keys still apply. The model section is the engine's own options (model/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.config import EngineConfig
from model.configs import Problem, camel, option, structure, unstructure

# The default threshold on a token's natural-log probability under which it is hinted.
# Calibrated with bench/diagnostics_eval.py (see server/README.md, "Diagnostics").
DEFAULT_THRESHOLD = -8.0

DEFAULT_LANGUAGES = [
    "python", "javascript", "typescript", "javascriptreact", "typescriptreact", "java", "cpp", "c",
    "go", "rust", "ruby", "php", "csharp", "kotlin", "scala", "swift", "lua", "shellscript", "sh",
    "bash", "sql", "html", "css", "markdown", "yaml", "toml", "json", "plaintext",
]


@dataclass
class CompletionSettings:
    enabled: bool = option(True, help="inline completion on/off")
    mode: str = option("auto", choices=("auto", "single", "multi"), help="auto, single or multi")
    max_tokens: int = option(64, lo=1, hi=1024, help="tokens per suggestion")
    debounce_ms: int = option(100, lo=0, hi=5000, help="wait after a keystroke")
    prompt_budget: int = option(1024, lo=64, hi=32768, help="prompt tokens")
    fallback: str = option("auto", choices=("auto", "on", "off"),
                           help="textDocument/completion item: auto (only without inline completion), on, off")
    deadline_ms: int = option(1500, lo=0, hi=60000,
                              help="a suggestion not ready this long after the request is not shown (0: no limit); "
                                   "its prefill still lands in the cache")
    busy_after_ms: int = option(400, lo=0, hi=60000, help="send wingman/busy when a request waits longer than this")
    adaptive: bool = option(True, help="narrow the prompt window when the full one cannot be ready in time, "
                                       "and widen it in the background")


@dataclass
class DiagnosticsSettings:
    enabled: bool = option(True, help="model-based hints on/off")
    threshold: float = option(DEFAULT_THRESHOLD, lo=-100, hi=0, help="log-probability under which a token is hinted")
    max_per_file: int = option(5, lo=0, hi=100, help="hints per file")
    max_file_bytes: int = option(200_000, lo=0, help="no hints for bigger files")
    debounce_ms: int = option(500, lo=0, hi=60000, help="wait after an edit")


@dataclass
class TelemetrySettings:
    enabled: bool = option(True, help="count shown/accepted suggestions locally")


@dataclass
class ActionSettings:
    translate_target: str = option("newFile", choices=("newFile", "replace"), help="newFile or replace")
    run_generated_tests: bool = option(True, help="record generated tests' expected values by running the function in a sandbox")
    test_timeout_s: float = option(20, lo=1, hi=600, help="sandbox timeout")
    # Verified translation (model/tasks/verify.py): samples until one is verified.
    translate_candidates: int = option(4, lo=1, hi=16, help="translation candidates at most (the first greedy)")
    translate_budget_s: float = option(90, lo=1, hi=3600, help="no new translation candidate after this many seconds")
    verify_min_inputs: int = option(5, lo=1, hi=60, help="distinct agreeing inputs for a translation to count as verified")
    code_candidates: int = option(3, lo=1, hi=16, help="code-from-comment candidates at most (the first greedy)")


@dataclass
class Settings:
    model: EngineConfig = option(factory=EngineConfig, help="the model (model/config.py)")
    completion: CompletionSettings = option(factory=CompletionSettings)
    diagnostics: DiagnosticsSettings = option(factory=DiagnosticsSettings)
    languages: list[str] = option(factory=lambda: list(DEFAULT_LANGUAGES), help="languageIds served")
    # Secret-looking files (server/privacy.py: BUILTIN) are never sent, whatever this holds.
    ignore: list[str] = option(factory=list, help="more glob patterns never sent to the model")
    telemetry: TelemetrySettings = option(factory=TelemetrySettings)
    actions: ActionSettings = option(factory=ActionSettings)
    fake_engine: dict | None = option(None, help="FakeEngine spec (tests only)")


def message(p: Problem) -> str:
    """A problem as the user reads it in the editor."""
    if p.kind == "unknown":
        return f"unknown setting `{p.path}` ignored (known here: {', '.join(camel(k) for k in p.known)})"
    if p.kind == "not_object":
        return f"`{p.path}` must be an object; using the default" if p.path != "settings" else \
            f"settings must be an object, not {type(p.value).__name__}; using defaults"
    if p.kind == "rejected":
        return f"`{p.path}` not applied: {p.expected}"
    shown = repr(p.current) if len(repr(p.current)) <= 40 else "the current value"
    return f"invalid value {p.value!r} for `{p.path}` (expected {p.expected}); using {shown}"


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from JSON on top of `base` (defaults when None), and the problems found."""
    settings, problems = structure(Settings, raw, base)
    return settings, [message(p) for p in problems]


def unwrap_change(settings: Any) -> Any:
    """didChangeConfiguration sends `{wingman: {...}}` (VS Code) or our object itself (others)."""
    if isinstance(settings, dict) and isinstance(settings.get("wingman"), dict):
        return settings["wingman"]
    return settings


def to_json(settings: Settings) -> Any:
    """The settings as camelCase JSON (for docs and `wingman.status`)."""
    return unstructure(settings)
