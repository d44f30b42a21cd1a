"""The corpus at scale (Wingman v2), on tiny local packages: no network.

npm tarballs and sdists are made in the test and put in the download cache; a package that "does
not download" has the cache's failure marker, so nothing reaches a registry.
"""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from training import annotate, clean, collect, pack, repo_fim
from training.config import AnnotateConfig, CleanConfig, CollectConfig, PackConfig, SourceConfig
from training.diskindex import DiskIndex
from training.io import iter_records
from training.manifests import ranked_npm, ranked_pypi
from training.packed import CompactRows, load_split

from .test_clean import _body, _rec

PKG_INFO = "Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nLicense-Expression: {lic}\n"


def _tar(path, files: dict[str, str | bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def _sdist(dl, name: str, version: str, lic: str, files: dict[str, str]) -> None:
    top = f"{name}-{version}"
    _tar(dl / f"{top}.tar.gz", {f"{top}/PKG-INFO": PKG_INFO.format(name=name, version=version, lic=lic),
                                **{f"{top}/{k}": v for k, v in files.items()}})


def _npm(dl, name: str, version: str, license_field, files: dict[str, str]) -> None:
    (dl / "npm").mkdir(parents=True, exist_ok=True)
    meta = {"name": name, "version": version, "license": license_field}
    _tar(dl / "npm" / f"{name}-{version}.tgz", {"package/package.json": json.dumps(meta),
                                                **{f"package/{k}": v for k, v in files.items()}})


@pytest.fixture()
def cache(tmp_path):
    """A download cache with PyPI and npm packages of every kind of bad input, and their manifests."""
    dl = tmp_path / "dl"
    dl.mkdir()
    for i in range(4):
        _sdist(dl, f"good{i}", "1.0", "MIT", {f"good{i}/core.py": _body(f"good{i}", 50),
                                               f"good{i}/util.py": f"from good{i}.core import *\n" + _body(f"u{i}", 30)})
    _sdist(dl, "copyleft", "1.0", "GPL-3.0-only", {"copyleft/a.py": _body("copyleft")})
    _sdist(dl, "bulky", "1.0", "MIT", {"bulky/huge.py": "x = 1\n" * 100_000, "bulky/blob.py": b"\x00\x01" * 50,
                                       "bulky/small.py": _body("bulky", 20)})
    (dl / "corrupt-1.0.tar.gz").write_bytes(b"not a gzip file")
    (dl / ".failed").mkdir()
    (dl / ".failed" / "missing-1.0").write_text("no sdist for missing==1.0 (planted)\n")
    _npm(dl, "leftpad", "2.0.0", "BlueOak-1.0.0", {"index.js": "export function leftPad(s, n) {\n"
                                                   "  return String(s).padStart(n, ' ');\n}\n" * 3})
    _npm(dl, "proprietary", "1.0.0", "UNLICENSED", {"index.js": "module.exports = 1;\n"})
    pypi = tmp_path / "pypi.txt"
    pypi.write_text("good0==1.0\ncopyleft==1.0\ngood1==1.0\nmissing==1.0\ncorrupt==1.0\nbulky==1.0\n"
                    "good2==1.0\ngood3==1.0\n")
    npm = tmp_path / "npm.txt"
    npm.write_text("leftpad==2.0.0\nproprietary==1.0.0\n")
    return dl, pypi, npm


def _collect_cfg(tmp_path, dl, pypi, npm, out="collect", **kw) -> CollectConfig:
    return CollectConfig(output=str(tmp_path / out), heldout="", download_dir=str(dl), max_file_bytes=50_000,
                         licenses=["MIT", "BlueOak-1.0.0"], download_workers=2,
                         sources=[SourceConfig(kind="sdist", manifest=str(pypi)),
                                  SourceConfig(kind="npm", manifest=str(npm))], **kw)


def test_collect_skips_and_counts_every_bad_package(tmp_path, cache):
    report = collect.run(_collect_cfg(tmp_path, *cache))
    c = report["counts"]
    assert c["package_ok"] == 6  # good0-3, bulky (its small file), leftpad
    assert c["package_not_permissive"] == 2  # GPL sdist, UNLICENSED npm package
    assert c["package_fetch_failed"] == 1 and c["package_unreadable"] == 1
    assert c["too_large_or_empty"] == 1 and c["binary"] == 1
    recs = list(iter_records(tmp_path / "collect"))
    assert {r["package"] for r in recs} == {"good0", "good1", "good2", "good3", "bulky", "leftpad"}
    js = [r for r in recs if r["package"] == "leftpad"]
    assert js and js[0]["license"] == "BlueOak-1.0.0" and js[0]["language"] == "javascript"
    assert report["timing"]["files_per_s"] > 0 and report["timing"]["peak_rss_mib"] > 0


class Boom(Exception):
    pass


def test_interrupted_collect_resumes_without_redoing_finished_packages(tmp_path, cache, monkeypatch):
    whole = collect.run(_collect_cfg(tmp_path, *cache, out="whole"))
    real = collect.iter_archive
    opened: list[str] = []

    def dying(archive, name, *a, **kw):
        opened.append(name)
        if name == "good2":  # killed half-way through the manifest, inside a package
            yield from list(real(archive, name, *a, **kw))[:1]
            raise Boom
        yield from real(archive, name, *a, **kw)

    monkeypatch.setattr(collect, "iter_archive", dying)
    with pytest.raises(Boom):
        collect.run(_collect_cfg(tmp_path, *cache, resume=True))
    assert "good0" in opened
    monkeypatch.setattr(collect, "iter_archive", lambda archive, name, *a, **kw: (opened.append(name), real(
        archive, name, *a, **kw))[1])
    opened.clear()
    report = collect.run(_collect_cfg(tmp_path, *cache, resume=True))
    assert "good0" not in opened and "good1" not in opened and "good2" in opened  # finished ones skipped
    assert report["timing"]["units_resumed"] > 0
    strip = lambda rs: [(r["repo"], r["path"], r["text"]) for r in rs]
    assert strip(iter_records(tmp_path / "collect")) == strip(iter_records(tmp_path / "whole"))
    assert {k: v for k, v in report["counts"].items()} == whole["counts"]


def _clean_cfg(tmp_path, src, out="clean", **kw) -> CleanConfig:
    return CleanConfig(input=str(src), output=str(tmp_path / out), heldout="", heldout_fetch=False, humaneval="",
                       **kw)


def _write_collect(directory, recs):
    from training.io import ShardWriter

    with ShardWriter(directory) as w:
        for r in recs:
            w.write(r)


def test_interrupted_clean_resumes_from_the_last_finished_package(tmp_path, monkeypatch):
    src = tmp_path / "in"
    recs = [_rec(i * 10 + j, f"m{j}.py", _body(f"p{i}m{j}", 30), package=f"p{i}") for i in range(5) for j in range(3)]
    recs.append(_rec(99, "copy.py", recs[0]["text"], package="p5"))  # an exact duplicate across packages
    _write_collect(src, recs)
    whole = clean.run(_clean_cfg(tmp_path, src, out="whole"))
    real = clean._clean_one
    calls = {"n": 0}

    def dying(rec, *a, **kw):
        calls["n"] += 1
        if rec["package"] == "p3" and rec["path"] == "m1.py":
            raise Boom
        return real(rec, *a, **kw)

    monkeypatch.setattr(clean, "_clean_one", dying)
    with pytest.raises(Boom):
        clean.run(_clean_cfg(tmp_path, src, resume=True))
    monkeypatch.setattr(clean, "_clean_one", real)
    report = clean.run(_clean_cfg(tmp_path, src, resume=True))
    assert report["timing"]["units_resumed"] == 3 and report["timing"]["files_this_run"] == 7
    strip = lambda rs: [(r["repo"], r["path"], r["text"]) for r in rs]
    assert strip(iter_records(tmp_path / "clean")) == strip(iter_records(tmp_path / "whole"))
    assert report["counts"] == whole["counts"] and report["counts"]["dropped_exact_duplicate"] == 1
    # A different config is refused instead of mixing two runs.
    with pytest.raises(Exception, match="another config"):
        clean.run(_clean_cfg(tmp_path, src, resume=True, min_alpha_ratio=0.3))


def test_near_duplicate_threshold_on_disk(tmp_path):
    """0.85 estimated Jaccard of token 5-gram shingles: a lightly edited copy is a duplicate, a
    heavily edited one is not; the index is a file and survives reopening."""
    base = _body("nearbase", 120)
    lines = base.splitlines(keepends=True)
    light = "".join(x.replace("limit", "bound") if i % 40 == 0 else x for i, x in enumerate(lines))
    heavy = "".join(x.replace("item", "elem").replace("limit", "cap") if i % 2 else x for i, x in enumerate(lines))
    index = DiskIndex(tmp_path / "i.sqlite", threshold=0.85)
    assert index.near_duplicate("a", base) is None
    index.db.commit()
    index.close()
    index = DiskIndex(tmp_path / "i.sqlite", threshold=0.85, fresh=False)
    hit = index.near_duplicate("b", light)
    assert hit is not None and hit[0] == "a" and hit[1] >= 0.85
    assert index.near_duplicate("c", heavy) is None
    index.close()


def test_vendored_copy_of_a_heldout_package_is_caught(tmp_path):
    """Held-out code copied into another sdist under a path no vendored-path rule knows: the whole
    file, and one function pasted into a larger file. Threshold: half of an item's 10-grams."""
    held_dir = tmp_path / "held"
    held_dir.mkdir()
    held = _body("heldpkg", 80)
    (held_dir / "heldpkg.py").write_text(held)
    func = held.split("\n\n\n")[3]  # one top-level definition of the held-out file
    assert len(func.splitlines()) >= 4
    src = tmp_path / "in"
    _write_collect(src, [
        _rec(1, "mylib/compat/heldcopy.py", "# copied from heldpkg\n" + held.replace("    ", "\t"), package="vend"),
        _rec(2, "mylib/big.py", _body("bigfile", 120) + "\n\n" + func + "\n" + _body("tail", 40), package="vend"),
        _rec(3, "mylib/own.py", _body("ownwork", 80), package="vend"),
    ])
    report = clean.run(_clean_cfg(tmp_path, src, heldout_sources=[str(held_dir)], heldout_chunk_min_grams=20,
                                  heldout_sample=1))
    assert report["counts"]["dropped_heldout_overlap"] == 2
    assert [r["path"] for r in iter_records(tmp_path / "clean")] == ["mylib/own.py"]
    assert report["decontamination"]["heldout_threshold"] == 0.5


def test_repo_context_format_and_imports():
    files = {"pkg/core.py": "def f():\n    return 1\n", "pkg/util.py": "from pkg.core import f\nfrom .other import g\n",
             "pkg/other.py": "def g():\n    return 2\n", "web/a.ts": "import { b } from './b';\n",
             "web/b.ts": "export const b = 1;\n"}
    assert repo_fim.imported_paths("pkg/util.py", files["pkg/util.py"], sorted(files)) == ["pkg/core.py",
                                                                                          "pkg/other.py"]
    assert repo_fim.imported_paths("web/a.ts", files["web/a.ts"], sorted(files)) == ["web/b.ts"]
    ctx, used = repo_fim.repo_context("pkg", "pkg/util.py", files["pkg/util.py"], files, 1000, 4, len)
    assert used == 2
    assert ctx == ("<repo_name>pkg<file_sep><filename>pkg/core.py\ndef f():\n    return 1\n"
                   "<file_sep><filename>pkg/other.py\ndef g():\n    return 2\n<file_sep><filename>pkg/util.py\n")
    small, used = repo_fim.repo_context("pkg", "pkg/util.py", files["pkg/util.py"], files, 90, 4, len)
    assert len(small) <= 90 and used == 1  # cut at a line to fit the budget
    assert "def f():\n<file_sep>" in small and "return 1" not in small


def test_annotate_then_compact_pack_rerun_on_the_same_clean_output(two_repos, tmp_path, tiny_tokenizer):
    from .pipeline import run_data_steps

    run_data_steps(two_repos, tmp_path, tiny_tokenizer, seq_len=64)
    cfg = AnnotateConfig(input=str(tmp_path / "clean"), output=str(tmp_path / "ann2"), repo_fim_rate=1.0, fim_loss="middle",
                         plain_rate=1.0)
    rep = annotate.run(cfg, tokenizer=tiny_tokenizer)
    assert rep["counts"]["repo_fim"] >= 1 and rep["timing"]["files_per_s"] > 0
    sample = next(s for s in iter_records(tmp_path / "ann2") if s["kind"] == "repo_fim")
    assert sample["segments"][0][0].startswith("<repo_name>") and sample["segments"][0][1] is False
    arrow = pack.run(PackConfig(input=str(tmp_path / "ann2"), output=str(tmp_path / "p_arrow"), seq_len=256,
                                val_fraction=0.5), tokenizer=tiny_tokenizer)
    compact = pack.run(PackConfig(input=str(tmp_path / "ann2"), output=str(tmp_path / "p_compact"), seq_len=256,
                                  val_fraction=0.5, format="compact"), tokenizer=tiny_tokenizer)
    for split in ("train", "validation"):
        a, c = load_split(tmp_path / "p_arrow" / split), load_split(tmp_path / "p_compact" / split)
        assert isinstance(c, CompactRows) and len(a) == len(c) > 0
        rows = list(range(len(a)))
        assert a[rows]["input_ids"] == c[rows]["input_ids"] and a[rows]["labels"] == c[rows]["labels"]
        assert compact["splits"][split]["compact"]["dtype"] == "uint16"
        assert compact["splits"][split]["compact"]["tokens_per_mib"] > 0
    assert compact["splits"]["train"]["trained_tokens"] == arrow["splits"]["train"]["trained_tokens"]


def test_three_splits_by_package():
    repos = [f"p{i}==1.0" for i in range(40)]
    splits = pack.assign_splits(repos, 0.1, 0.1, ["p0==1.0"], ["p1==1.0"], seed=0)
    assert splits["p0==1.0"] == "validation" and splits["p1==1.0"] == "heldout"
    counts = {s: sum(1 for v in splits.values() if v == s) for s in ("train", "validation", "heldout")}
    assert counts == {"train": 32, "validation": 4, "heldout": 4}
    assert splits == pack.assign_splits(list(reversed(repos)), 0.1, 0.1, ["p0==1.0"], ["p1==1.0"], seed=0)


def test_compact_form_round_trips_and_uses_uint16(tmp_path):
    from training.packed import CompactWriter

    rng = np.random.default_rng(0)
    w = CompactWriter(tmp_path / "s", 32, 49156)
    rows = []
    for _ in range(7):
        ids = rng.integers(0, 49156, 32).tolist()
        labels = [x if rng.random() < 0.4 else -100 for x in ids]
        w.write(ids, labels)
        rows.append((ids, labels))
    meta = w.close()
    assert meta["rows"] == 7 and meta["dtype"] == "uint16" and meta["tokens"] == 7 * 32
    back = CompactRows(tmp_path / "s")
    assert back[list(range(7))]["input_ids"] == [r[0] for r in rows]
    assert back[list(range(7))]["labels"] == [r[1] for r in rows]
    with pytest.raises(ValueError, match="differs"):
        CompactWriter(tmp_path / "t", 4, 100).write([1, 2, 3, 4], [1, 2, 9, -100])


def test_ranked_manifests_from_the_registry_lists(tmp_path):
    pypi = tmp_path / "pypi.tsv"
    pypi.write_text("name\tversion\tmonth\trank_among_15000_most_downloaded\tsummary\n"
                    "zeta\t1.0\t2026-01\t3\tz\nalpha\t2.0\t2026-01\t1\ta\nnover\t\t\t2\tno version\n"
                    "toolz\t1.2.0\t2026-01\t4\theld out\nunranked\t1.0\t2026-01\t\tnot ranked\n")
    assert ranked_pypi(pypi, 10, {"toolz"}) == [("alpha", "2.0", 1), ("zeta", "1.0", 3)]
    npm = tmp_path / "npm.tsv"
    npm.write_text("name\tversion\tdownloads_a_month\tsummary\nsmall\t1.0.0\t5\t\n@s/big\t2.0.0\t900\t\n")
    assert ranked_npm(npm, 1, set()) == [("@s/big", "2.0.0", 900)]
