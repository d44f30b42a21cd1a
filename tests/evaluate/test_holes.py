from training.evaluate import holes
from training.evaluate.heldout import is_test_path


def test_repo_files(repo):
    assert repo.source_files == ["minirepo/__init__.py", "minirepo/textutils.py"]
    assert repo.test_files == ["tests/test_textutils.py"]
    assert repo.tests_for("minirepo/textutils.py") == ["tests/test_textutils.py"]
    assert repo.module_name("minirepo/textutils.py") == "minirepo.textutils"
    assert is_test_path("pkg/tests/helpers.py") and is_test_path("test_x.py") and not is_test_path("pkg/testing_ok.py")


def test_holes_cut_the_file_exactly(repo):
    text = repo.read("minirepo/textutils.py")
    for kind in ("line", "single", "multi"):
        hs = holes.select([repo], kind, None)
        assert hs, kind
        for h in hs:
            assert h.kind == kind and h.target.strip()
            if kind == "line":  # the file as typed so far: up to the cursor, no suffix
                assert h.suffix == "" and (text + "\n").startswith(h.prefix + h.target + "\n")
            else:  # the file has no trailing whitespace, so the cut is exact
                assert h.prefix + h.target + h.suffix == text
            if kind == "multi":
                assert h.target.count("\n") >= 1


def test_holes_skip_docstrings_comments_and_brackets(repo):
    targets = {h.target for h in holes.select([repo], "single", None)}
    assert 'return SEPARATOR.join(words)' in targets
    assert not any("Lower-case words" in t or "Small text helpers" in t for t in targets)
    multi = {h.target for h in holes.select([repo], "multi", None)}
    # the docstring stays in the prefix: the hole is the code after it
    assert "words = _WORDS.findall(text.lower())\n    return SEPARATOR.join(words)" in multi


def test_selection_is_seeded_and_limit_takes_a_prefix(repo):
    a = [h.id for h in holes.select([repo], "single", None, seed=1)]
    b = [h.id for h in holes.select([repo], "single", None, seed=1)]
    c = [h.id for h in holes.select([repo], "single", None, seed=2)]
    assert a == b and sorted(a) == sorted(c) and a != c
    assert [h.id for h in holes.select([repo], "single", 3, seed=1)] == a[:3]


def test_selection_interleaves_repositories(repo, tmp_path):
    from training.evaluate.heldout import local_repo

    other = tmp_path / "other"
    (other / "pkg").mkdir(parents=True)
    (other / "pkg" / "m.py").write_text("def f(a):\n    total = a + 1\n    return total * 2\n")
    hs = holes.select([repo, local_repo(other, "other")], "single", 4)
    assert [h.repo.split("==")[0] for h in hs[:2]] == ["minirepo", "other"]
