from model.fim import TEMPLATES, WINGMAN
from model.tasks.window import CharEncoder, FimPromptBuilder, WindowConfig
from model.tiny import make_tokenizer


def _tok():
    tok = make_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": WINGMAN.special_tokens})
    return tok


def _file(n_lines: int) -> str:
    return "".join(f"value_{i} = compute({i}, {i * 7})\n" for i in range(n_lines))


def test_budget_is_respected_and_cut_at_lines():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN, WindowConfig(step_lines=8))
    text = _file(400)
    cursor = text.index("value_300")
    p = b.build(text[:cursor], text[cursor:], budget=256)
    assert len(p.ids) <= 256
    assert p.prefix_start_line % 8 == 0 and p.prefix_start_line > 0
    decoded = tok.decode(p.ids)
    assert decoded.startswith("<|wm_fim_suffix|>value_300")
    assert "<|wm_fim_middle|>" not in decoded  # the open middle: the prompt ends with the prefix
    prefix_part = decoded.split("<|wm_fim_prefix|>")[1]
    assert text[:cursor].endswith(prefix_part)
    assert prefix_part.startswith(f"value_{p.prefix_start_line} =")  # whole lines only


def test_typing_appends_to_the_previous_prompt():
    """Suffix-first: each keystroke keeps every token before the cursor's last token."""
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN, WindowConfig(step_lines=16))
    text = _file(300)
    cursor = text.index("value_200")
    prev = None
    recomputed = []
    for typed in ["x", "x ", "x =", "x = c", "x = co", "x = com"]:
        p = b.build(text[:cursor] + typed, text[cursor:], budget=512)
        if prev is not None:
            common = next((i for i, (a, c) in enumerate(zip(prev, p.ids)) if a != c), min(len(prev), len(p.ids)))
            recomputed.append(len(p.ids) - common)
        prev = p.ids
    assert max(recomputed) <= 4, recomputed  # the changed last token(s) and the middle marker


def test_window_start_moves_in_coarse_steps():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN, WindowConfig(step_lines=32))
    text = _file(500)
    starts = set()
    for line in range(300, 340):
        cursor = text.index(f"value_{line} ")
        starts.add(b.build(text[:cursor], text[cursor:], budget=400).prefix_start_line)
    assert all(s % 32 == 0 for s in starts)
    assert len(starts) <= 3  # 40 lines of typing move the window at most twice


def test_suffix_window_does_not_depend_on_prefix():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, TEMPLATES["none"].__class__("psm-test", *WINGMAN.special_tokens, "psm"))
    text = _file(200)
    cursor = text.index("value_100")
    a = b.build(text[:cursor], text[cursor:], 300)
    c = b.build(text[:cursor] + "abc", text[cursor:], 300)
    sa = tok.decode(a.ids).split("<|wm_fim_suffix|>")[1]
    sc = tok.decode(c.ids).split("<|wm_fim_suffix|>")[1]
    assert sa == sc


def test_giant_line_is_cut_by_tokens():
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, TEMPLATES["none"])
    p = b.build("x = [" + "1, " * 5000, "", budget=100)
    assert len(p.ids) <= 100 and p.truncated


def test_window_line_numbers_are_the_files_even_in_a_huge_prefix():
    """Only the tail that could fit is split, but the window still starts on a file line that is
    a multiple of the step, so it stays put while the user types."""
    tok = _tok()
    b = FimPromptBuilder.for_tokenizer(tok, WINGMAN, WindowConfig(step_lines=32))
    text = _file(20000)
    cursor = text.index("value_19000 ")
    p = b.build(text[:cursor], text[cursor:], budget=2000)
    assert not p.truncated and p.prefix_start_line % 32 == 0 and 18000 < p.prefix_start_line < 19000
    assert p.pieces[3].startswith(f"value_{p.prefix_start_line} =")


def test_one_window_for_tokens_and_for_characters():
    """The remote engine's window is the same code counted in characters."""
    b = FimPromptBuilder(CharEncoder(), WINGMAN, config=WindowConfig(step_lines=8))
    text = _file(400)
    cursor = text.index("value_300")
    p = b.build(text[:cursor], text[cursor:], budget=2000)
    suffix, prefix = p.pieces[1], p.pieces[3]
    assert len(suffix) <= 500 and len(prefix) + len(suffix) + 2 <= 2000
    assert text[cursor:].startswith(suffix) and text[:cursor].endswith(prefix)
    assert p.prefix_start_line % 8 == 0 and prefix.startswith(f"value_{p.prefix_start_line} =")
    assert "".join(p.pieces) == WINGMAN.render(prefix, suffix)
