"""Repository context: selection (model/tasks/retrieval.py), rendering and budget
(model/tasks/repo_context.py, model/tasks/window.py), on the tiny tokenizer and model."""

from model.fim import WINGMAN
from model.tasks import retrieval
from model.tasks.repo_context import ContextRenderer, render_context
from model.tasks.window import CharEncoder, FimPromptBuilder, WindowConfig
from model.tiny import make_tokenizer
from model.types import CancelToken, CompletionRequest

SHAPES = '''import math


def zorblax_area(points):
    """Shoelace area."""
    return 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1])))


class Polygon:
    def __init__(self, pts):
        self.pts = pts

    def perimeter(self):
        return sum(math.dist(a, b) for a, b in zip(self.pts, self.pts[1:]))
'''
UNRELATED = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n" for i in range(40))


def _tok():
    tok = make_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": WINGMAN.special_tokens + ["<repo_name>"]})
    return tok


def test_definitions_of_imported_names_come_first():
    prefix = "from geo.shapes import zorblax_area\n\n\ndef total(polys):\n    s = zorblax_area(polys[0])\n    return "
    files = {"geo/shapes.py": SHAPES}
    resolve = lambda module, name: ("geo/shapes.py", SHAPES) if module == "geo.shapes" else None  # noqa: E731
    ctx = retrieval.select(prefix, "", [("util.py", UNRELATED)], resolve)
    assert ctx[0][0] == "geo/shapes.py"
    assert ctx[0][1].startswith("def zorblax_area(points):") and "class Polygon" not in ctx[0][1]
    assert "geo/shapes.py" in files  # the resolver was the only way to it: not an open file


def test_names_defined_in_other_open_files_and_the_word_being_typed():
    prefix = "def total(polys):\n    return sum(zorb"
    ctx = retrieval.select(prefix, "", [("util.py", UNRELATED), ("shapes.py", SHAPES)])
    assert [p for p, _ in ctx][0] == "shapes.py" and "def zorblax_area" in ctx[0][1]
    # Nothing used here is defined elsewhere and nothing is alike: no context at all.
    assert retrieval.select("x = 1\n", "", [("shapes.py", SHAPES)]) == ()


def test_bm25_windows_pick_the_similar_lines():
    other = UNRELATED + "def render_invoice(customer, invoice_lines, tax_rate):\n    pass\n"
    prefix = "def bill(customer, invoice_lines):\n    tax_rate = 0.2\n    \n"
    ctx = retrieval.select(prefix, "", [("billing.py", other)], max_snippets=1)
    assert len(ctx) == 1 and "render_invoice" in ctx[0][1]


def test_typing_on_one_line_keeps_the_same_context():
    base = "from shapes import zorblax_area\n\ndef total(polys):\n    a = zorblax_area(polys)\n    b = "
    first = retrieval.select(base, "", [("shapes.py", SHAPES)])
    for typed in ("m", "ma", "max(", "max(a"):
        assert retrieval.select(base + typed, "", [("shapes.py", SHAPES)]) == first


def test_unparseable_other_files_give_no_definitions():
    assert retrieval.definitions("def broken(:\n") == {}
    assert retrieval.definitions(SHAPES)["zorblax_area"].startswith("def zorblax_area")


def test_rendered_in_the_repository_format_within_its_share():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN, WindowConfig(context_share=0.4))
    prefix, suffix = "from shapes import zorblax_area\n\ndef f(p):\n    return ", "\n"
    p = b.build(prefix, suffix, 256, context=(("shapes.py", SHAPES), ("util.py", UNRELATED)), repo_name="geo",
                path="app.py")
    assert len(p.ids) <= 256 and p.context is not None and len(p.context.ids) <= int(256 * 0.4)
    text = "".join(p.pieces)
    # The format training renders (training/repo_fim.py uses the same functions).
    assert text.startswith(render_context("geo", p.context.files[::-1]) + "<file_sep><filename>app.py\n<|wm_fim_suffix|>")
    assert text.endswith(prefix)
    assert p.context.files[0][0] == "shapes.py"  # the most useful file is fitted first, rendered last
    assert "<file_sep><filename>shapes.py\n" in text
    # The markers are single tokens where the vocabulary has them.
    vocab = tok.get_vocab()
    assert p.ids[0] == vocab["<repo_name>"] and vocab["<file_sep>"] in p.ids and vocab["<filename>"] in p.ids
    # Without context the prompt is exactly the plain FIM prompt.
    assert b.build(prefix, suffix, 256).ids == b.build(prefix, suffix, 256, context=()).ids


def test_context_is_before_the_cursor_so_typing_keeps_it_cached():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN)
    ctx = (("shapes.py", SHAPES),)
    prev = b.build("def f(p):\n    return z", "\n", 512, context=ctx, path="app.py").ids
    now = b.build("def f(p):\n    return zo", "\n", 512, context=ctx, path="app.py").ids
    common = next((i for i, (x, y) in enumerate(zip(prev, now)) if x != y), min(len(prev), len(now)))
    assert common >= len(prev) - 2  # only the cursor's last token or two are recomputed


def test_a_file_too_big_for_the_share_is_cut_at_a_line_and_text_backends_count_characters():
    r = ContextRenderer(CharEncoder(), {"<repo_name>": -1, "<file_sep>": -1, "<filename>": -1})
    out = r.render("repo", [("big.py", UNRELATED)], "app.py", 300)
    assert 0 < len(out.ids) <= 300
    code = out.files[0][1]
    assert UNRELATED.startswith(code) and code.endswith("\n")
    assert r.render("repo", [("big.py", UNRELATED)], "app.py", 10).ids == []  # no room: no context


def test_the_local_engine_sends_the_context(tiny_engine):
    req = CompletionRequest(prefix="def f(p):\n    return zorb", suffix="\n", max_tokens=4, budget=400,
                            context=(("shapes.py", SHAPES),), repo_name="geo", repo_path="app.py")
    ids, _ = tiny_engine._fim_ids(req, 400)
    assert "zorblax_area" in tiny_engine.tok.decode(ids)
    plain, _ = tiny_engine._fim_ids(CompletionRequest(prefix=req.prefix, suffix="\n", budget=400), 400)
    assert "zorblax_area" not in tiny_engine.tok.decode(plain)
    tiny_engine.complete(req, CancelToken())  # runs through the whole path


def test_the_same_context_is_rendered_once():
    """Typing keeps the context's inputs: its rendering (several encodes per file) comes from the
    memo, and a change of any input renders anew."""
    class Counting(CharEncoder):
        calls = 0

        def encode(self, text):
            Counting.calls += 1
            return super().encode(text)

    r = ContextRenderer(Counting(), {"<repo_name>": None, "<file_sep>": None, "<filename>": None})
    files = (("geo/shapes.py", SHAPES),)
    first = r.render("geo", files, "app.py", 200)
    n = Counting.calls
    assert r.render("geo", files, "app.py", 200) is first and Counting.calls == n
    other = r.render("geo", files, "app.py", 90)
    assert Counting.calls > n and len(other.ids) <= 90 < len(first.ids)
