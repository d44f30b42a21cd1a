"""The shipped example configs and corpus manifests parse and validate."""

from __future__ import annotations

from pathlib import Path

import pytest

from training import config as C
from training.collect import read_manifest

CONFIGS = Path(C.__file__).parent / "configs"
KINDS = {"collect": C.CollectConfig, "clean": C.CleanConfig, "annotate": C.AnnotateConfig, "pack": C.PackConfig,
         "train": C.TrainConfig, "tiny": C.TrainConfig, "export": C.ExportConfig}


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_example_config_loads(path):
    cls = KINDS[path.stem.removeprefix("sweep-").split("-")[0]]  # wingman-v1/ holds the sweep's variants too
    cfg = C.load_config(cls, str(path))
    assert isinstance(cfg, cls)


def test_manifests_are_pinned_and_disjoint_from_heldout():
    heldout = {n.lower() for n, _ in read_manifest(C.HELDOUT_FILE)}
    manifests = [p for p in C.CORPUS_DIR.glob("*.txt") if p.name != "heldout.txt"]
    assert manifests
    for m in manifests:
        entries = read_manifest(m)
        assert entries and not heldout & {n.lower() for n, _ in entries}


def test_bad_values_are_rejected():
    with pytest.raises(C.ConfigError, match="at least one source"):
        C.CollectConfig(sources=[])
    with pytest.raises(C.ConfigError, match="kind"):
        C.load_config(C.CollectConfig, None, {"sources": [{"kind": "ftp", "path": "x"}]})
    with pytest.raises(C.ConfigError, match="translate.target"):
        C.load_config(C.AnnotateConfig, None, {"translate": {"target": "cobol"}})
    with pytest.raises(C.ConfigError, match="expected true or false"):
        C.load_config(C.CleanConfig, None, {"near_dedupe": "yes please"})
