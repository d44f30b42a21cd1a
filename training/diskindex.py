"""The clean step's state on disk (SQLite): exact-content hashes, a MinHash LSH index, and the
progress of a resumable run, all in one database so that one commit moves them together.

Near-duplicates: MinHash signatures (`num_perm` bins of a one-permutation MinHash) over token
`shingle`-grams; the LSH bands (b × r chosen by datasketch for `threshold`) propose candidates, and
a candidate counts only when the signatures' estimated Jaccard similarity is at least `threshold`
(v1's in-memory LSH took every candidate). The index holds hashes and signatures, never text, and
lives in a file: its size grows with the corpus, not the process's memory.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from pathlib import Path

import numpy as np

from training.decontam import code_tokens

_MAX_HASH = (1 << 32) - 1
_EMPTY = np.uint64(1 << 32)

SCHEMA = """
CREATE TABLE IF NOT EXISTS exact (hash BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signatures (doc INTEGER PRIMARY KEY, key TEXT, sig BLOB);
CREATE TABLE IF NOT EXISTS bands (band INTEGER, bucket INTEGER, doc INTEGER);
CREATE INDEX IF NOT EXISTS bands_lookup ON bands (band, bucket);
CREATE TABLE IF NOT EXISTS progress (unit INTEGER PRIMARY KEY, repo TEXT, position TEXT, counts TEXT);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


class DiskIndex:
    def __init__(self, path: str | Path, threshold: float = 0.85, num_perm: int = 128, shingle: int = 5,
                 fresh: bool = True):
        from datasketch.lsh import _optimal_param

        self.path = Path(path)
        if fresh:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        self.next_doc = (self.db.execute("SELECT MAX(doc) FROM signatures").fetchone()[0] or 0) + 1

    # ------------------------------------------------------------ exact

    def seen_exact(self, digest: str) -> bool:
        """True if this content hash was seen; otherwise it is remembered."""
        cur = self.db.execute("INSERT OR IGNORE INTO exact VALUES (?)", (bytes.fromhex(digest),))
        return cur.rowcount == 0

    # ------------------------------------------------------------ near

    def signature(self, text: str) -> np.ndarray:
        """A one-permutation MinHash (Li, Owen & Zhang 2012, with rotation densification) over token
        shingles: each shingle is hashed once, its top bits pick one of `num_perm` bins and each bin
        keeps its least value. Agreeing bins estimate the Jaccard similarity like a `num_perm`-hash
        MinHash, at the cost of one hash per shingle instead of `num_perm`. Stable across processes
        (CRC-32 per distinct token): signatures are stored and a resumed run compares against them."""
        toks = code_tokens(text)
        seen: dict[str, int] = {}
        th = np.fromiter((seen.setdefault(t, zlib.crc32(t.encode("utf-8", "surrogatepass"))) for t in toks),
                         dtype=np.uint64, count=len(toks))
        k = min(self.shingle, max(1, len(th)))
        n = max(1, len(th) - k + 1)
        h = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            if len(th):
                for j in range(k):
                    h = h * np.uint64(0x100000001B3) + th[j:j + n]  # wraps mod 2**64, as intended
            # splitmix64's finaliser: every input bit moves the top (bin) and bottom (value) bits
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            h ^= h >> np.uint64(31)
        bins = (h % np.uint64(self.num_perm)).astype(np.intp)
        values = (h >> np.uint64(32)).astype(np.uint64)
        sig = np.full(self.num_perm, _EMPTY, dtype=np.uint64)
        np.minimum.at(sig, bins, values)
        empty = sig == _EMPTY
        if empty.all():
            return np.zeros(self.num_perm, dtype=np.uint32)
        if empty.any():  # rotation: an empty bin takes the next filled bin's value, marked by its distance
            filled = np.flatnonzero(~empty)
            idx = np.arange(self.num_perm)
            nxt = filled[np.searchsorted(filled, idx) % len(filled)]
            dist = (nxt - idx) % self.num_perm
            sig = np.where(empty, (sig[nxt] + dist.astype(np.uint64) * np.uint64(0x9E3779B1)) & np.uint64(_MAX_HASH),
                           sig)
        return sig.astype(np.uint32)

    def _buckets(self, sig: np.ndarray) -> list[int]:
        out = []
        for b in range(self.bands):
            chunk = sig[b * self.rows:(b + 1) * self.rows].tobytes()
            out.append(int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "little", signed=True))
        return out

    def near_duplicate(self, key: str, text: str) -> tuple[str, float] | None:
        """(key of an earlier file, estimated Jaccard) when this text is a near-duplicate of it;
        otherwise None and the text's signature is indexed."""
        sig = self.signature(text)
        buckets = self._buckets(sig)
        candidates: set[int] = set()
        for band, bucket in enumerate(buckets):
            candidates.update(d for (d,) in self.db.execute(
                "SELECT doc FROM bands WHERE band = ? AND bucket = ?", (band, bucket)))
        best = None
        for doc in sorted(candidates):
            other_key, blob = self.db.execute("SELECT key, sig FROM signatures WHERE doc = ?", (doc,)).fetchone()
            jaccard = float(np.mean(np.frombuffer(blob, dtype=np.uint32) == sig))
            if jaccard >= self.threshold and (best is None or jaccard > best[1]):
                best = (other_key, jaccard)
        if best is not None:
            return best
        doc = self.next_doc
        self.next_doc += 1
        self.db.execute("INSERT INTO signatures VALUES (?, ?, ?)", (doc, key, sig.tobytes()))
        self.db.executemany("INSERT INTO bands VALUES (?, ?, ?)", [(b, k, doc) for b, k in enumerate(buckets)])
        return None

    # ------------------------------------------------------------ progress

    def units(self) -> list[dict]:
        return [{"unit": u, "repo": r, "position": json.loads(p), "counts": json.loads(c)}
                for u, r, p, c in self.db.execute("SELECT unit, repo, position, counts FROM progress ORDER BY unit")]

    def commit_unit(self, unit: int, repo: str, position: tuple[int, int], counts: dict) -> None:
        """Record a finished unit and commit everything it added (hashes, signatures) with it."""
        self.db.execute("INSERT OR REPLACE INTO progress VALUES (?, ?, ?, ?)",
                        (unit, repo, json.dumps(list(position)), json.dumps(counts)))
        self.db.commit()

    def get_meta(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
        self.db.commit()

    def size_mib(self) -> float:
        return round(sum(Path(str(self.path) + s).stat().st_size for s in ("", "-wal")
                         if Path(str(self.path) + s).exists()) / 2 ** 20, 1)

    def abort(self) -> None:
        try:
            self.db.rollback()
            self.db.close()
        except sqlite3.ProgrammingError:  # already closed
            pass

    def close(self) -> None:
        self.db.commit()
        self.db.close()
