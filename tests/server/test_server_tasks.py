"""Python analysis, test-file writing and the sandbox (which really runs pytest)."""

from __future__ import annotations


from server.features.code_from_comment import find_target
from server.documents import Snapshot
from model.tasks import prompts, pysource, testgen
from model.sandbox import pytest_run as sandbox

SRC = '''import math


class Stack:
    def push(self, x):
        self.items.append(x)


def area(r):
    """Area of a circle."""
    return math.pi * r * r


def todo(values):
    """Sum of squares."""
    ...
'''


def test_function_at_and_stubs():
    fn = pysource.function_at(SRC, SRC.index("math.pi"))
    assert fn.name == "area" and fn.source.startswith("def area(r):") and fn.source.endswith("r * r")
    assert pysource.function_at(SRC, SRC.index("append")).name == "Stack.push"
    assert pysource.function_at(SRC, 0) is None
    assert not pysource.is_stub(fn)
    todo = pysource.function_at(SRC, SRC.index("Sum of"))
    assert pysource.is_stub(todo)
    start, end, indent = pysource.body_span(SRC, todo)
    assert SRC[start:end] == "\n    ..." and indent == "    "


def test_comment_target_in_any_language():
    js = "function f() {}\n// add two numbers\n\nlet x = 1;\n"
    t = find_target(Snapshot("file:///a.js", 1, "javascript", js), js.index("add"))
    assert t is not None and t.stub == "// add two numbers"
    assert find_target(Snapshot("file:///a.js", 1, "javascript", "// sets x\nlet x = 1;\n"), 3) is None


def test_import_root_climbs_packages(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").touch()
    (tmp_path / "pkg" / "sub" / "__init__.py").touch()
    mod = tmp_path / "pkg" / "sub" / "m.py"
    mod.touch()
    assert pysource.import_root(str(mod)) == (tmp_path.resolve(), "pkg.sub.m")


def test_parse_reply_salvages_a_cut_off_reply():
    reply = "```python\nimport pytest\nfrom stats import mean\n\ndef test_a():\n    assert mean([2]) == 2\n\ndef test_b():\n    assert mean([1, 3"
    code = testgen.parse_reply(prompts.extract_code(reply), "stats")
    assert code.imports == ["import pytest"]
    assert [n for n, _ in code.functions] == ["test_a"]


def test_render_appends_with_fresh_names(tmp_path):
    code = testgen.TestCode(["import pytest"], [("test_a", "def test_a():\n    assert True")])
    test_file = tmp_path / "tests" / "test_stats.py"
    first = testgen.render(None, code, test_file, str(tmp_path / "lib" / "stats.py"), "mean")
    assert 'Path(__file__).resolve().parent / "../lib"' in first and "from stats import mean" in first
    more = testgen.render(first, code, test_file, str(tmp_path / "lib" / "stats.py"), "mean")
    assert "def test_a_2():" in more and "from stats import mean" not in more


def test_sandbox_keeps_passing_tests_and_enforces_limits(tmp_path):
    module = tmp_path / "lib" / "m.py"
    module.parent.mkdir()
    text = "def double(x):\n    return 2 * x\n"
    tests = ("from m import double\n\n"
             "def test_ok():\n    assert double(2) == 4\n\n"
             "def test_wrong():\n    assert double(2) == 5\n\n"
             "def test_no_network():\n    import socket\n    socket.create_connection(('1.1.1.1', 53), timeout=2)\n\n"
             "def test_memory_hog():\n    b = bytearray(4 << 30)\n")
    result = sandbox.run_tests(tests, str(module), text, timeout_s=60)
    assert result.error == ""
    assert result.passed == ["test_ok"]
    assert {"test_wrong", "test_memory_hog"} <= set(result.failed)
    assert any(e.startswith("memory: ") for e in result.enforced)
    if any(e.startswith("network: ") for e in result.enforced):  # where a network namespace works
        assert "test_no_network" in result.failed


def test_sandbox_timeout(tmp_path):
    module = tmp_path / "m.py"
    result = sandbox.run_tests("def test_forever():\n    while True:\n        pass\n", str(module), "", timeout_s=2)
    assert "timed out" in result.error and result.passed == []
