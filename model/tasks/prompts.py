"""The instruction tasks' chat prompts, and getting the code back out of a reply.

The server sends exactly these messages and training renders exactly these (system message
included), so a model is trained on the prompts it is served. One phrasing per task: the variety
annotate once added was never sent by the server, so it taught the model requests it never sees.
"""

from __future__ import annotations

import re

from model.types import ChatMessage

LANGUAGES = {  # languageId -> (display name, file extension, fence tag)
    "python": ("Python", ".py", "python"),
    "javascript": ("JavaScript", ".js", "javascript"),
    "typescript": ("TypeScript", ".ts", "typescript"),
    "java": ("Java", ".java", "java"),
    "cpp": ("C++", ".cpp", "cpp"),
    "go": ("Go", ".go", "go"),
    "rust": ("Rust", ".rs", "rust"),
}
ALIASES = {"javascriptreact": "javascript", "typescriptreact": "typescript", "c++": "cpp", "js": "javascript",
           "ts": "typescript", "py": "python", "rs": "rust", "golang": "go"}
SYSTEM = "You are Wingman, a careful programming assistant. Reply with code only, in one fenced code block."


def canonical(language: str) -> str:
    language = language.lower()
    return ALIASES.get(language, language)


def display(language: str) -> str:
    return LANGUAGES.get(canonical(language), (language,))[0]


def translate(code: str, source: str, target: str) -> list[ChatMessage]:
    src, dst = display(source), display(target)
    tag = LANGUAGES.get(canonical(target), ("", "", target))[2]
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Translate this {src} code to {dst}. Keep the names and the behaviour.\n"
                                    f"```{canonical(source)}\n{code.rstrip()}\n```\nAnswer with the {dst} code in a ```{tag} block."},
    ]


def tests(function_source: str, name: str, module: str) -> list[ChatMessage]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Write pytest tests for the function `{name}` from the module `{module}`:\n"
                                    f"```python\n{function_source.rstrip()}\n```\n"
                                    f"Write several small `def test_...():` functions with plain asserts. "
                                    f"Assume `{name.split('.')[0]}` is already imported."},
    ]


CONTEXT_CHARS = 3000  # of the file before the stub, shown with a code-from-comment request


def code_from_comment(text_before: str, stub: str, language: str) -> list[ChatMessage]:
    """`text_before`: the file up to the stub's end; its last CONTEXT_CHARS characters are shown."""
    context = text_before[-CONTEXT_CHARS:]
    lang = display(language)
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Here is some {lang} code:\n```{canonical(language)}\n{context.rstrip()}\n```\n"
                                    f"Write the {lang} code that the comment or docstring describes:\n"
                                    f"```{canonical(language)}\n{stub.rstrip()}\n```\nAnswer with the complete code."},
    ]


_FENCE = re.compile(r"```([^\n`]*)\n(.*?)(?:```|\Z)", re.S)


def extract_code(reply: str, language: str | None = None) -> str:
    """The first fenced block tagged with `language` (else the first block; an unclosed one too:
    generation may stop at max_tokens), else the reply itself."""
    blocks = _FENCE.findall(reply)
    code = reply
    if blocks:
        code = blocks[0][1]
        if language:
            want = {canonical(language), LANGUAGES.get(canonical(language), ("", "", ""))[2]}
            code = next((body for tag, body in blocks if canonical(tag.strip()) in want), code)
    return code.strip("\n").rstrip() + "\n" if code.strip() else ""


def block_closed(text: str, language: str | None = None) -> bool:
    """True once the reply holds a complete fenced code block (in `language`, or untagged, when
    given): what the task extracts is there, the rest would be chatter."""
    tag = None
    for line in text.split("\n"):
        stripped = line.lstrip()
        if not stripped.startswith("```"):
            continue
        if tag is None:
            tag = stripped[3:].strip()
        else:
            if language is None or not tag or canonical(tag) == canonical(language):
                return True
            tag = None
    return False
