import pytest

from model.tiny import make_tiny_checkpoint


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt")


@pytest.fixture(scope="session")
def tiny_engine(tiny_dir):
    from model.config import EngineConfig
    from model.factory import load_engine

    return load_engine(EngineConfig(model=str(tiny_dir), quantize="none", dtype="float32"))


@pytest.fixture
def wingman_home(tmp_path, monkeypatch):
    monkeypatch.setenv("WINGMAN_HOME", str(tmp_path / "home"))
    return tmp_path / "home"
