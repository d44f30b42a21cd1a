"""Build an Engine from an EngineConfig."""

from __future__ import annotations

from model.config import EngineConfig
from model.engine import Engine
from model.types import Progress


def load_engine(config: EngineConfig, progress: Progress | None = None) -> Engine:
    """Slow for a local model (seconds): call it off the event loop. Raises EngineError with a
    message meant for the user (e.g. ModelNotFoundError naming `wingman model pull`)."""
    if config.backend == "fake":
        from model.fake import FakeEngine

        return FakeEngine.from_spec(config.fake)
    if config.backend == "remote":
        from model.remote import RemoteEngine

        return RemoteEngine.from_config(config)
    from model.local import LocalEngine

    return LocalEngine.load(config, progress=progress)
