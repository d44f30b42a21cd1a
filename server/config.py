"""The server's settings: one defaulted dataclass tree, read from camelCase JSON.

They arrive as `initializationOptions` and again with `workspace/didChangeConfiguration`
(`settings.wingman`, or the settings object itself). Every key is optional. A key we do not know,
or a value of the wrong type or out of range, is reported by name (the server shows it with
`window/showMessage`) and the default — or, on a change, the current value — is kept.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, get_type_hints

# The default threshold on a token's natural-log probability under which it is hinted.
# Calibrated with bench/diagnostics_eval.py (see server/README.md, "Diagnostics").
DEFAULT_THRESHOLD = -8.0

TRANSLATE_LANGUAGES = ("python", "javascript", "typescript", "java", "cpp", "go", "rust")
DEFAULT_LANGUAGES = [
    "python", "javascript", "typescript", "javascriptreact", "typescriptreact", "java", "cpp", "c",
    "go", "rust", "ruby", "php", "csharp", "kotlin", "scala", "swift", "lua", "shellscript", "sh",
    "bash", "sql", "html", "css", "markdown", "yaml", "toml", "json", "plaintext",
]
DEFAULT_IGNORE = ["**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/id_rsa*", "**/credentials*", "**/secrets*"]


def _meta(help: str, choices: tuple | None = None, lo: float | None = None, hi: float | None = None) -> dict:
    return {"help": help, "choices": choices, "lo": lo, "hi": hi}


@dataclass
class ModelSettings:
    backend: str = field(default="local", metadata=_meta("local, remote or fake", ("local", "remote", "fake")))
    path: str = field(default="default", metadata=_meta('"default" (the base model + the shipped Wingman adapter), "base", a checkpoint directory or a .gguf file'))
    adapter: str | None = field(default=None, metadata=_meta("a peft adapter directory"))
    device: str = field(default="cpu", metadata=_meta('"cpu", "cuda", "cuda:1", "mps" or "auto"'))
    quantize: str = field(default="auto", metadata=_meta("auto, none, int8 or int4", ("auto", "none", "int8", "int4")))
    remote_url: str = field(default="", metadata=_meta("OpenAI-compatible server URL"))
    remote_model: str = field(default="", metadata=_meta("model name on the remote server"))
    remote_api_key: str = field(default="", metadata=_meta("API key for the remote server"))


@dataclass
class CompletionSettings:
    enabled: bool = field(default=True, metadata=_meta("inline completion on/off"))
    mode: str = field(default="auto", metadata=_meta("auto, single or multi", ("auto", "single", "multi")))
    max_tokens: int = field(default=64, metadata=_meta("tokens per suggestion", lo=1, hi=1024))
    debounce_ms: int = field(default=100, metadata=_meta("wait after a keystroke", lo=0, hi=5000))
    prompt_budget: int = field(default=1024, metadata=_meta("prompt tokens", lo=64, hi=32768))
    fallback: str = field(
        default="auto",
        metadata=_meta("textDocument/completion item: auto (only without inline completion), on, off",
                       ("auto", "on", "off")),
    )


@dataclass
class DiagnosticsSettings:
    enabled: bool = field(default=True, metadata=_meta("model-based hints on/off"))
    threshold: float = field(default=DEFAULT_THRESHOLD, metadata=_meta("log-probability under which a token is hinted", lo=-100, hi=0))
    max_per_file: int = field(default=5, metadata=_meta("hints per file", lo=0, hi=100))
    max_file_bytes: int = field(default=200_000, metadata=_meta("no hints for bigger files", lo=0))
    debounce_ms: int = field(default=500, metadata=_meta("wait after an edit", lo=0, hi=60000))


@dataclass
class TelemetrySettings:
    enabled: bool = field(default=True, metadata=_meta("count shown/accepted suggestions locally"))


@dataclass
class ActionSettings:
    translate_target: str = field(default="newFile", metadata=_meta("newFile or replace", ("newFile", "replace")))
    run_generated_tests: bool = field(default=False, metadata=_meta("run generated tests in a sandbox, keep passing ones"))
    test_timeout_s: float = field(default=20, metadata=_meta("sandbox timeout", lo=1, hi=600))


@dataclass
class Settings:
    model: ModelSettings = field(default_factory=ModelSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    diagnostics: DiagnosticsSettings = field(default_factory=DiagnosticsSettings)
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES), metadata=_meta("languageIds served"))
    ignore: list[str] = field(default_factory=lambda: list(DEFAULT_IGNORE), metadata=_meta("glob patterns never sent to the model"))
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    actions: ActionSettings = field(default_factory=ActionSettings)
    fake_engine: dict | None = field(default=None, metadata=_meta("FakeEngine spec (tests only)"))


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _check(value: Any, hint: Any, meta: dict) -> tuple[bool, Any, str]:
    """(ok, converted value, what was expected)."""
    text = str(hint)
    if hint is bool:
        return isinstance(value, bool), value, "true or false"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if isinstance(value, float) and value.is_integer():
            ok, value = True, int(value)
        expect = "an integer"
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
        expect = "a number"
    elif hint is str:
        ok, expect = isinstance(value, str), "a string"
    elif "list[str]" in text:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expect = "a list of strings"
    elif "dict" in text:
        ok, expect = value is None or isinstance(value, dict), "an object or null"
    elif "str | None" in text or "Optional[str]" in text:
        ok, expect = value is None or isinstance(value, str), "a string or null"
    else:
        ok, expect = True, ""
    if ok and meta.get("choices") and value not in meta["choices"]:
        return False, value, "one of " + ", ".join(map(str, meta["choices"]))
    lo, hi = meta.get("lo"), meta.get("hi")
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool):
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            return False, value, f"{expect} {rng}"
    return ok, value, expect


def _merge(obj: Any, raw: dict, prefix: str, problems: list[str]) -> None:
    hints = get_type_hints(type(obj))
    by_camel = {camel(f.name): f for f in fields(obj)}
    for key, value in raw.items():
        f = by_camel.get(key) or by_camel.get(camel(snake(key)))
        dotted = f"{prefix}{key}"
        if f is None:
            problems.append(f"unknown setting `{dotted}` ignored")
            continue
        current = getattr(obj, f.name)
        if is_dataclass(current):
            if isinstance(value, dict):
                _merge(current, value, dotted + ".", problems)
            elif value is not None:
                problems.append(f"`{dotted}` must be an object; using the default")
            continue
        ok, converted, expect = _check(value, hints[f.name], dict(f.metadata))
        if not ok:
            shown = repr(current) if len(repr(current)) <= 40 else "the current value"
            problems.append(f"invalid value {value!r} for `{dotted}` (expected {expect}); using {shown}")
            continue
        setattr(obj, f.name, copy.deepcopy(converted))


def parse_settings(raw: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from JSON on top of `base` (defaults when None), and the problems found."""
    settings = copy.deepcopy(base) if base is not None else Settings()
    problems: list[str] = []
    if raw is None:
        return settings, problems
    if not isinstance(raw, dict):
        return settings, [f"settings must be an object, not {type(raw).__name__}; using defaults"]
    _merge(settings, raw, "", problems)
    return settings, problems


def unwrap_change(settings: Any) -> Any:
    """didChangeConfiguration sends `{wingman: {...}}` (VS Code) or our object itself (others)."""
    if isinstance(settings, dict) and isinstance(settings.get("wingman"), dict):
        return settings["wingman"]
    return settings


def to_json(obj: Any) -> Any:
    """The settings as camelCase JSON (for docs and `wingman.status`)."""
    if is_dataclass(obj):
        return {camel(f.name): to_json(getattr(obj, f.name)) for f in fields(obj)}
    return copy.deepcopy(obj)
