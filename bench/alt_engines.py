"""Other CPU engines against Wingman's, on the base model, in the same run: ONNX Runtime GenAI
(int4 MatMulNBits, its own model builder) and CTranslate2 (int8). The "Fast on every CPU" issue
asks whether another engine with a proven CPU path beats our decode on both CPU classes while
keeping KV reuse, cancellation between tokens and our stop rules.

Speed: the random 512-token prompt of `wingman bench --against-llamacpp` (model/yardstick.py), 64
greedy tokens, the same threads, the median of the repeats. Agreement: how many of the first 32
greedy tokens after 512 tokens of real code (examples/stats.py) each engine shares with HF
transformers in fp32, a check that each conversion is still the model.

Neither engine is a dependency. To run it:
    pip install --target /tmp/altpkgs --no-deps onnxruntime-genai onnxruntime onnx onnx-ir \
        ml_dtypes protobuf ctranslate2
    PYTHONPATH=/tmp/altpkgs python bench/alt_engines.py --out bench/alt-engines-2026-12-02/native.json
The conversions are cached in $WINGMAN_HOME/alt-engines/. `ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2` holds back torch only: both other engines pick their kernels by cpuid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from model.config import EngineConfig  # noqa: E402
from model.kernels import cpu_features  # noqa: E402
from model.paths import wingman_home  # noqa: E402
from model.pull import default_model_dir  # noqa: E402
from model.types import NEVER_CANCELLED  # noqa: E402
from model.yardstick import _prompt_ids  # noqa: E402

N_CHECK = 32


def _same_prefix(a: list[int], b: list[int]) -> int:
    return len(os.path.commonprefix([[int(x) for x in a], [int(x) for x in b]]))


def hf_fp32(hf_dir: Path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()

    def generate(ids: list[int], n: int):
        with torch.inference_mode():
            out = model.generate(torch.tensor([ids]), max_new_tokens=n, min_new_tokens=n, do_sample=False)
        return 0.0, 0.0, out[0, len(ids):].tolist()
    return generate


def our_loop(decoder):
    """Our Decoder (model/decode.py) on any backbone: plain decode, exactly n tokens."""
    def generate(ids: list[int], n: int):
        stop_ids, lookahead = decoder.stop_ids, decoder.lookahead
        decoder.stop_ids, decoder.lookahead = set(), 0
        try:
            decoder.drop("alt")
            slot = decoder.slot("alt")
            t = time.perf_counter()
            logits, _ = decoder.prefill(slot, ids, NEVER_CANCELLED)
            t1 = time.perf_counter()
            out = [tok for tok, _ in decoder.tokens(slot, logits, n, NEVER_CANCELLED)]
            return t1 - t, time.perf_counter() - t1, out
        finally:
            decoder.stop_ids, decoder.lookahead = stop_ids, lookahead
            decoder.drop("alt")
    return generate


def ort_backbone(hf_dir: Path, threads: int, max_len: int):
    """ORT's int8 export as a backbone under our own loop (model/ort_backbone.py)."""
    from model.decode import Decoder
    from model.ort_backbone import OrtBackbone

    ort_genai(hf_dir, threads, "onnxruntime_genai_int8")  # the export, built once
    return our_loop(Decoder(OrtBackbone(wingman_home() / "alt-engines" / "onnxruntime_genai_int8", threads, max_len),
                            set()))


# The builder's CPU defaults (MatMulNBits, blocks of 32, activations quantized to int8 on the fly)
# at 4 and 8 bits. Its int4 is round-to-nearest with an integer zero point, which cannot hold the
# base model's GGUF Q4_1 weights (a float minimum per group of 32) exactly; Wingman's int4 can.
# The int4 variants tried besides (fp32 activations and an fp32 head; asymmetric) agreed on 3-4 of
# 32 greedy tokens like the default, the fp32 export on all 32.
ORT_VARIANTS = {"onnxruntime_genai_int4": ["-p", "int4"], "onnxruntime_genai_int8": ["-p", "int8"]}


def ort_genai(hf_dir: Path, threads: int, name: str):
    import subprocess

    import onnxruntime_genai as og

    out_dir = wingman_home() / "alt-engines" / name
    if not (out_dir / "genai_config.json").is_file():
        subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
                        *ORT_VARIANTS[name], "-e", "cpu", "-c", str(out_dir.parent / "ort-cache")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(out_dir.parent / "ort-cache", ignore_errors=True)
    cfg = json.loads((out_dir / "genai_config.json").read_text())
    cfg["model"]["decoder"]["session_options"].update(intra_op_num_threads=threads, inter_op_num_threads=1)
    (out_dir / "genai_config.json").write_text(json.dumps(cfg, indent=4))
    model = og.Model(str(out_dir))

    def generate(ids: list[int], n: int):
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + n + 1, do_sample=False)
        gen = og.Generator(model, params)
        t = time.perf_counter()
        gen.append_tokens(ids)  # the prefill; a later append_tokens or rewind_to reuses this KV
        t1 = time.perf_counter()
        for _ in range(n):
            gen.generate_next_token()  # our loop: a cancel check fits between any two tokens
        t2 = time.perf_counter()
        return t1 - t, t2 - t1, list(gen.get_sequence(0))[len(ids):]
    return generate


def ctranslate2_int8(hf_dir: Path, tok, threads: int):
    import ctranslate2

    out_dir = wingman_home() / "alt-engines" / "ct2-int8"
    if not (out_dir / "model.bin").is_file():
        from ctranslate2.converters import TransformersConverter

        TransformersConverter(str(hf_dir)).convert(str(out_dir), quantization="int8", force=True)
    gen = ctranslate2.Generator(str(out_dir), device="cpu", compute_type="int8", intra_threads=threads,
                                inter_threads=1)

    def generate(ids: list[int], n: int):
        t = time.perf_counter()
        steps = gen.generate_tokens(tok.convert_ids_to_tokens(ids), max_length=n, sampling_topk=1, end_token=[])
        first = next(steps)  # the prefill and the first token
        t1 = time.perf_counter()
        rest = list(steps)
        return t1 - t, time.perf_counter() - t1, [first.token_id] + [s.token_id for s in rest]
    return generate


def timed(generate, ids: list[int], n_gen: int, repeats: int) -> dict:
    runs = [generate(ids, n_gen) for _ in range(repeats)]
    return {"prefill_tok_s": statistics.median(len(ids) / p for p, _, _ in runs),
            "decode_tok_s": statistics.median(len(out) / d for _, d, out in runs)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="0: all cores")
    ap.add_argument("--out")
    args = ap.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    from model.bench import _prompt_text
    from model.factory import load_engine

    hf_dir = default_model_dir()
    engine = load_engine(EngineConfig(model="base", adapter=None, threads=threads, adaptive_threads=False))
    tok = engine.tok
    ids = _prompt_ids(len(tok), 512)  # speed: nothing repeats (model/yardstick.py)
    code = tok(_prompt_text(tok, 512), add_special_tokens=False)["input_ids"]  # agreement: real code
    plan = getattr(engine.backbone, "plan", None)
    results: dict = {"cpu": cpu_features(), "threads": threads, "prompt_tokens": len(ids), "tokens": args.tokens,
                     "isa_env": {k: os.environ.get(k, "") for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")},
                     "load_before": os.getloadavg()[0],
                     "wingman_plan": plan.describe() if plan is not None else engine.info.quantization}
    reference = hf_fp32(hf_dir)(code, N_CHECK)[2]
    engines = {"wingman": lambda: our_loop(engine.decoder),
               "wingman_loop_on_ort_int8": lambda: ort_backbone(hf_dir, threads, engine.decoder.max_len)}
    engines |= {name: (lambda name=name: ort_genai(hf_dir, threads, name)) for name in ORT_VARIANTS}
    engines["ctranslate2_int8"] = lambda: ctranslate2_int8(hf_dir, tok, threads)
    for name, make in engines.items():
        try:
            generate = make()
            results[name] = timed(generate, ids, args.tokens, args.repeats)
            results[name]["same_greedy_tokens_as_hf_fp32"] = _same_prefix(generate(code, N_CHECK)[2], reference)
        except Exception as e:  # an engine missing or failing is a row that says why
            results[name] = {"error": f"{type(e).__name__}: {e}"}
    for name in list(engines)[1:]:
        r = results[name]
        if "decode_tok_s" in r and "decode_tok_s" in results["wingman"]:
            r["decode_vs_wingman"] = r["decode_tok_s"] / results["wingman"]["decode_tok_s"]
            r["prefill_vs_wingman"] = r["prefill_tok_s"] / results["wingman"]["prefill_tok_s"]
    results["load_after"] = os.getloadavg()[0]
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
