import pytest

from model.fim import TEMPLATES, WINGMAN, detect_template, get_template


def test_detect_by_vocabulary():
    assert detect_template({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"}).name == "qwen"
    assert detect_template({"<fim_prefix>", "<fim_suffix>", "<fim_middle>"}).name == "starcoder"
    assert detect_template({"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"}).name == "deepseek"
    assert detect_template(set(WINGMAN.special_tokens)).name == "wingman"
    assert detect_template({"<|im_start|>"}).name == "none"


def test_orders():
    # Wingman's SPM leaves the middle open: the prompt ends with the prefix (healing applies).
    assert WINGMAN.render("P", "S") == "<|wm_fim_suffix|>S<|wm_fim_prefix|>P"
    assert WINGMAN.ends_with_prefix() and not WINGMAN.ends_with_prefix("psm")
    assert WINGMAN.render("P", "S", "psm") == "<|wm_fim_prefix|>P<|wm_fim_suffix|>S<|wm_fim_middle|>"
    assert not TEMPLATES["qwen"].ends_with_prefix() and TEMPLATES["none"].ends_with_prefix()
    assert TEMPLATES["qwen"].render("P", "S") == "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"
    assert TEMPLATES["deepseek"].order == "psm"
    assert TEMPLATES["none"].render("P", "S") == "P"


def test_unknown_template_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown FIM template 'nope'"):
        get_template("nope")


def test_a_wingman_marker_in_the_output_ends_the_middle():
    from model.fim import WINGMAN, WINGMAN_PAD

    assert set(WINGMAN.special_tokens) | {WINGMAN_PAD, "<|endoftext|>"} <= set(WINGMAN.stop)
