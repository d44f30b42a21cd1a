"""Packed rows in a compact, compressed form: what a GPU run carries in one transfer.

A split directory holds
- `tokens.npy.xz`: the token ids, an `[rows, seq_len]` array (uint16 when the vocabulary has at
  most 65,536 ids, else uint32), saved as .npy and xz-compressed;
- `trained.npy.xz`: which positions are trained (the labels that are not -100), one bit a token
  (`numpy.packbits` along each row);
- `packed.json`: shape, dtype, sizes, and tokens per MiB of the compressed pair.
A label is its token id where trained, else -100, so the two arrays give back `input_ids` and
`labels` exactly. Rows are written as they are packed (a raw temporary file on disk, then
compressed in chunks): memory stays bounded whatever the corpus size.
"""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path

import numpy as np

MIB = 1 << 20
TRANSFER_MIB = 64  # the device tool's limit per call


def dtype_for(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


class CompactWriter:
    def __init__(self, directory: str | Path, seq_len: int, vocab_size: int, preset: int = 6):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seq_len, self.dtype, self.preset = seq_len, dtype_for(vocab_size), preset
        self.rows = 0
        self._ids = open(self.dir / ".tokens.raw", "wb")
        self._mask = open(self.dir / ".trained.raw", "wb")

    def write(self, input_ids: list[int], labels: list[int]) -> None:
        ids = np.asarray(input_ids, dtype=np.int64)
        if ids.shape != (self.seq_len,) or len(labels) != self.seq_len:
            raise ValueError(f"a packed row must have {self.seq_len} tokens")
        lab = np.asarray(labels, dtype=np.int64)
        trained = lab != -100
        if np.any(lab[trained] != ids[trained]):
            raise ValueError("a trained label differs from its token: the compact form cannot hold it")
        self._ids.write(ids.astype(self.dtype).tobytes())
        self._mask.write(np.packbits(trained).tobytes())
        self.rows += 1

    def _compress(self, raw: Path, target: Path, shape: tuple, dtype: np.dtype) -> int:
        tmp = target.with_name(f".{target.name}.tmp")
        with lzma.open(tmp, "wb", preset=self.preset) as out:
            out.write(_npy_header(dtype, shape))
            with open(raw, "rb") as f:
                while chunk := f.read(16 * MIB):
                    out.write(chunk)
        os.replace(tmp, target)
        raw.unlink()
        return target.stat().st_size

    def close(self) -> dict:
        self._ids.close()
        self._mask.close()
        shape = (self.rows, self.seq_len)
        b_ids = self._compress(self.dir / ".tokens.raw", self.dir / "tokens.npy.xz", shape, self.dtype)
        b_mask = self._compress(self.dir / ".trained.raw", self.dir / "trained.npy.xz",
                                (self.rows, (self.seq_len + 7) // 8), np.dtype(np.uint8))
        tokens = self.rows * self.seq_len
        mib = (b_ids + b_mask) / MIB
        meta = {"rows": self.rows, "seq_len": self.seq_len, "dtype": self.dtype.name, "tokens": tokens,
                "compressed_bytes": {"tokens": b_ids, "trained": b_mask},
                "raw_bytes": tokens * self.dtype.itemsize + self.rows * ((self.seq_len + 7) // 8),
                "tokens_per_mib": round(tokens / mib) if mib else None,
                "tokens_per_transfer": int(tokens / mib * TRANSFER_MIB) if mib else None}
        (self.dir / "packed.json").write_text(json.dumps(meta, indent=2) + "\n")
        return meta


def _npy_header(dtype: np.dtype, shape: tuple) -> bytes:
    """The .npy header (magic included) of a C-order array, so raw rows can follow it."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(dtype),
                                               "fortran_order": False, "shape": shape})
    return buf.getvalue()


def is_compact(directory: str | Path) -> bool:
    return (Path(directory) / "tokens.npy.xz").is_file()


def load_arrays(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids [rows, seq_len], trained [rows, seq_len] bool), decompressed into memory."""
    d = Path(directory)
    with lzma.open(d / "tokens.npy.xz", "rb") as f:
        ids = np.load(f)
    with lzma.open(d / "trained.npy.xz", "rb") as f:
        bits = np.load(f)
    trained = np.unpackbits(bits, axis=1, count=ids.shape[1]).astype(bool)
    return ids, trained


class CompactRows:
    """The rows as train.py reads a `datasets` split: `len(ds)` and `ds[rows]` → input_ids, labels."""

    def __init__(self, directory: str | Path):
        self.ids, self.trained = load_arrays(directory)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, rows):
        ids = self.ids[rows].astype(np.int64)
        labels = np.where(self.trained[rows], ids, -100)
        return {"input_ids": ids.tolist(), "labels": labels.tolist()}


def load_split(directory: str | Path):
    """A pack split in either form: the compact one, or `datasets` Arrow on disk."""
    if is_compact(directory):
        return CompactRows(directory)
    import datasets

    return datasets.load_from_disk(str(directory))
