"""collect: every source kind records package, version, licence and path; bad files are counted."""

from __future__ import annotations

import io
import subprocess
import tarfile

from training import collect
from training.config import CollectConfig, SourceConfig
from training.io import iter_records

from .conftest import MIT


def _records(out):
    return {(r["package"], r["path"]): r for r in iter_records(out)}


def test_directory_source_counts_bad_files(two_repos, tmp_path):
    geometry = two_repos[0]
    (geometry / "blob.py").write_bytes(b"\x00\x01binary\x00")
    (geometry / "latin1.py").write_bytes("caf\xe9 = 1\n".encode("latin-1"))  # not UTF-8
    (geometry / "huge.py").write_text("x = 1\n" * 400)
    (geometry / "gone.py").symlink_to(tmp_path / "does-not-exist.py")  # unreadable
    (geometry / "notes.txt").write_text("not code")
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("strings==0.1\n")
    cfg = CollectConfig(output=str(tmp_path / "out"), heldout=str(heldout), max_file_bytes=1000,
                        sources=[SourceConfig(kind="dir", path=str(p)) for p in two_repos])
    report = collect.run(cfg)
    c = report["counts"]
    assert c["binary"] == 2 and c["unreadable"] == 1 and c["too_large_or_empty"] == 1
    assert c["heldout_excluded"] == 2  # strings_util.py and web/app.js
    recs = _records(tmp_path / "out")
    assert set(recs) == {("geometry", "geometry.py"), ("geometry", "tests/test_geometry.py")}
    r = recs[("geometry", "geometry.py")]
    assert r["license"] == "MIT" and r["language"] == "python" and r["repo"] == "geometry==unknown"
    assert report["packages"][0]["files"] == 2


def _tar(path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


def test_sdist_manifest_uses_the_download_cache(tmp_path):
    dl = tmp_path / "dl"
    dl.mkdir()
    _tar(dl / "my_pkg-1.0.tar.gz", {
        "my_pkg-1.0/PKG-INFO": b"Metadata-Version: 2.4\nName: my-pkg\nVersion: 1.0\nLicense-Expression: BSD-3-Clause\n",
        "my_pkg-1.0/src/my_pkg/__init__.py": b"def hello():\n    return 'hi'\n",
        "my_pkg-1.0/src/my_pkg/fast.rs": b"fn main() {}\n",
        "my_pkg-1.0/README.md": b"# readme\n",
    })
    (dl / "broken-2.0.tar.gz").write_bytes(b"this is not a gzip file")
    manifest = tmp_path / "m.txt"
    manifest.write_text("# packages\nmy-pkg==1.0\nbroken==2.0\n")
    cfg = CollectConfig(output=str(tmp_path / "out"), heldout="", download_dir=str(dl),
                        sources=[SourceConfig(kind="sdist", manifest=str(manifest))])
    report = collect.run(cfg)
    assert report["counts"]["package_failed"] == 1
    recs = _records(tmp_path / "out")
    assert set(recs) == {("my-pkg", "src/my_pkg/__init__.py"), ("my-pkg", "src/my_pkg/fast.rs")}
    assert recs[("my-pkg", "src/my_pkg/fast.rs")]["language"] == "rust"
    assert all(r["license"] == "BSD-3-Clause" and r["version"] == "1.0" for r in recs.values())


def test_site_packages_and_git_sources(tmp_path):
    sp = tmp_path / "site-packages"
    (sp / "demo").mkdir(parents=True)
    (sp / "demo" / "__init__.py").write_text("VALUE = 1\n")
    info = sp / "demo-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo\nVersion: 0.3\n"
                                   "Classifier: License :: OSI Approved :: Apache Software License\n")
    (info / "RECORD").write_text("demo/__init__.py,,\ndemo-0.3.dist-info/METADATA,,\n")
    repo = tmp_path / "gitrepo"
    repo.mkdir()
    (repo / "LICENSE").write_text(MIT)
    (repo / "main.go").write_text("package main\n\nfunc main() {}\n")
    (repo / "untracked.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "LICENSE", "main.go"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "x"], check=True)
    cfg = CollectConfig(output=str(tmp_path / "out"), heldout="", sources=[
        SourceConfig(kind="site-packages", path=str(sp)), SourceConfig(kind="git", path=str(repo))])
    collect.run(cfg)
    recs = _records(tmp_path / "out")
    assert set(recs) == {("demo", "demo/__init__.py"), ("gitrepo", "main.go")}
    assert recs[("demo", "demo/__init__.py")]["license"] == "Apache-2.0"
    assert recs[("gitrepo", "main.go")]["license"] == "MIT"
    assert len(recs[("gitrepo", "main.go")]["version"]) == 12  # the commit
