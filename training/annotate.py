"""`wingman annotate`: clean files → training samples, each a list of (text, train) segments.

- FIM in both orders with the engine's exact template (model/fim.py), the middle ending in EOT;
- plain left-to-right windows;
- docstring→function and signature→body pairs, function→tests pairs mined from test suites;
- translation pairs by execution-checked self-training (training/translate.py);
all instruction pairs rendered with the tokenizer's chat template, loss on the answer only.
Files stream one at a time; only one repository's Python functions are held at once (the
collect step writes each repository's files together).
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path

from model.fim import WINGMAN
from training import mining, translate
from training.config import AnnotateConfig, resolve_base_model, to_dict
from training.io import ShardWriter, iter_records, read_json, write_json

log = logging.getLogger(__name__)
EOT = "<|endoftext|>"


# ---------------------------------------------------------------- FIM


def windows(text: str, size: int) -> list[str]:
    """Cut a long file at line boundaries into pieces of about `size` characters."""
    if len(text) <= size:
        return [text]
    out, cur, n = [], [], 0
    for line in text.splitlines(keepends=True):
        if n + len(line) > size and cur:
            out.append("".join(cur))
            cur, n = [], 0
        cur.append(line[:size])
        n += len(line[:size])
    if cur:
        out.append("".join(cur))
    return out


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    """Start of pos's line and the index after its newline (or len(text))."""
    start = text.rfind("\n", 0, pos) + 1
    nl = text.find("\n", pos)
    return start, len(text) if nl < 0 else nl + 1


def _after_lines(text: str, pos: int, k: int) -> int:
    for _ in range(k):
        nl = text.find("\n", pos)
        if nl < 0:
            return len(text)
        pos = nl + 1
    return pos


def fim_split(text: str, rng: random.Random, max_lines: int) -> tuple[str, str, str]:
    """(prefix, middle, suffix) in the shapes an editor asks for: the rest of a line from anywhere
    in it; one line's code after its indentation; a block of lines after the first one's
    indentation; the rest of a line with nothing after it (typing at the end of a file); a random span."""
    n = len(text)
    pos = rng.randrange(n)
    line_start, line_end = _line_bounds(text, pos)
    indent = line_start + len(text[line_start:line_end]) - len(text[line_start:line_end].lstrip(" \t"))
    mode = rng.random()
    if mode < 0.3:  # finish the current line from the cursor
        start, end = pos, line_end
    elif mode < 0.5:  # one line's code, its indentation kept before the cursor
        start, end = min(indent, line_end), line_end
    elif mode < 0.75:  # a few whole lines, cursor after the first one's indentation
        start, end = min(indent, line_end), _after_lines(text, line_start, rng.randint(2, max(2, max_lines)))
        if rng.random() < 0.3:  # a new body at the end of the file: nothing after it
            return text[:start], text[start:end], ""
    elif mode < 0.85:  # finish the line; nothing after it
        return text[:pos], text[pos:line_end], ""
    else:  # a random span within max_lines
        start, end = pos, rng.randint(pos, _after_lines(text, pos, max_lines))
    return text[:start], text[start:end], text[end:]


def fim_sample(prefix: str, middle: str, suffix: str, order: str, loss: str = "all") -> list[list]:
    """loss "middle": only the middle and its EOT are trained. A fine-tune has few tokens to teach
    FIM with, and ~90% of a sample is context the base model already predicts left to right."""
    pieces = WINGMAN.pieces(prefix, suffix, order)
    return [[p, loss == "all"] for p in pieces if p] + [[middle, True], [EOT, True]]


# ---------------------------------------------------------------- chat


class ChatRenderer:
    """Messages → (prompt, answer) segments with the tokenizer's own chat template."""

    def __init__(self, tokenizer):
        self.tok = tokenizer

    def __call__(self, user: str, assistant: str) -> list[list]:
        messages = [{"role": "user", "content": user}]
        prompt = self.tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        full = self.tok.apply_chat_template(messages + [{"role": "assistant", "content": assistant}], tokenize=False)
        if not full.startswith(prompt):
            raise ValueError("the chat template does not render the prompt as a prefix of the conversation")
        return [[prompt, False], [full[len(prompt):], True]]


def load_tokenizer(name: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_base_model(name))


def module_of(path: str) -> str:
    """A source path as the module a test imports: src/pkg/mod.py → pkg.mod."""
    parts = path.removesuffix(".py").split("/")
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or "module"


def fence(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code.rstrip()}\n```"


# ---------------------------------------------------------------- the step


class Annotator:
    def __init__(self, cfg: AnnotateConfig, writer: ShardWriter, chat: ChatRenderer, counts: Counter):
        self.cfg, self.writer, self.chat, self.counts = cfg, writer, chat, counts
        self.rng = random.Random(cfg.seed)
        self.candidates: list[dict] = []  # translation candidates (function + literal cases)

    def emit(self, kind: str, rec: dict, segments: list[list]) -> None:
        self.writer.write({"kind": kind, "repo": rec["repo"], "language": rec.get("language"),
                           "path": rec.get("path"), "segments": segments})
        self.counts[kind] += 1

    def file(self, rec: dict) -> None:
        cfg = self.cfg
        for win in windows(rec["text"], cfg.fim_window_chars):
            if not win.strip():
                continue
            if self.rng.random() < cfg.plain_rate:
                self.emit("plain", rec, [[win, True], [EOT, True]])
            for _ in range(cfg.fim_per_file):
                prefix, middle, suffix = fim_split(win, self.rng, cfg.fim_max_middle_lines)
                order = "spm" if self.rng.random() < cfg.fim_spm_rate else "psm"
                self.emit(f"fim_{order}", rec, fim_sample(prefix, middle, suffix, order, cfg.fim_loss))

    def repo(self, recs: list[dict]) -> None:
        try:
            self._repo(recs)
        except Exception as exc:
            self.counts["failed_repo"] += 1
            log.warning("skipping the pairs of %s: %r", recs[0]["repo"] if recs else "?", exc)

    def _repo(self, recs: list[dict]) -> None:
        """Python pairs for one repository: docstring/signature pairs, then function→tests."""
        cfg = self.cfg
        defs: dict[str, list] = {}
        tests: list[mining.TestFunction] = []
        for rec in recs:
            if mining.is_test_path(rec["path"]):
                tests.extend(mining.test_functions(rec["text"]))
                continue
            for fn in mining.functions(rec["text"], rec["path"]):
                if len(fn.source) > cfg.max_function_chars or fn.name.startswith("test"):
                    continue
                defs.setdefault(fn.name, []).append((fn, rec))
                if cfg.docstring_pairs and fn.docstring and len(fn.docstring) >= 20:
                    user = (f"Write a Python function `{fn.signature.strip().removesuffix(':')}` that does the "
                            f"following:\n\n{fn.docstring.strip()}")
                    self.emit("docstring_to_function", rec, self.chat(user, fence(fn.source)))
                if cfg.signature_pairs and fn.body.count("\n") >= 2:
                    head = fn.source[: len(fn.source) - len(fn.body)] if fn.source.endswith(fn.body) else fn.signature
                    user = f"Complete the body of this Python function:\n\n{fence(head)}"
                    self.emit("signature_to_body", rec, self.chat(user, fence(fn.source)))
        unique = {name: v[0] for name, v in defs.items() if len(v) == 1}
        callers: dict[str, list[mining.TestFunction]] = {}
        for t in tests:
            for name in t.calls & unique.keys():
                callers.setdefault(name, []).append(t)
        for name, ts in sorted(callers.items()):
            fn, rec = unique[name]
            if cfg.test_pairs:
                body = "\n\n".join(t.source.rstrip() for t in ts[:3])
                if len(body) <= cfg.max_function_chars:
                    user, answer = self.tests_request(fn, module_of(rec["path"]), body)
                    self.emit("function_to_tests", {**rec, "path": rec["path"]}, self.chat(user, fence(answer)))
            cases = [(args, exp) for t in ts for callee, args, exp in t.cases if callee == name]
            cases = translate.convertible_cases(cases)
            if fn.toplevel and cases and cfg.translate.enabled and len(self.candidates) < cfg.translate.max_functions:
                self.candidates.append({"repo": rec["repo"], "path": rec["path"], "name": name,
                                        "source": fn.source, "cases": cases[:20]})

    def tests_request(self, fn, module: str, body: str) -> tuple[str, str]:
        """Three phrasings of "write tests", as the server's action, a test-file request naming the
        import, and a bare one; the answer imports the function where the request asks for a file."""
        pick = self.rng.random()
        if pick < 0.4:
            return (f"Write pytest tests for the function `{fn.name}` from the module `{module}`:\n"
                    f"{fence(fn.source)}\nWrite several small `def test_...():` functions with plain asserts. "
                    f"Assume `{fn.name}` is already imported.", body)
        if pick < 0.8:
            return (f"Write pytest tests for the Python function `{fn.name}` below. It is in the module `{module}`: "
                    f"import it with `from {module} import {fn.name}`. Answer with one ```python code block holding "
                    f"the whole test file.\n\n{fence(fn.source)}", f"from {module} import {fn.name}\n\n\n{body}")
        return f"Write pytest tests for this Python function:\n\n{fence(fn.source)}", body

    def translations(self, translator: translate.Translator) -> list[dict]:
        t = self.cfg.translate
        results = []
        for cand in self.candidates:
            self.counts["translate_candidates"] += 1
            kept, reason = None, ""
            for js in translator(cand["source"], cand["name"]):
                ok, output = translate.check(cand["name"], js, cand["cases"], t.timeout_s)
                if ok:
                    kept = js
                    break
                lines = [x for x in output.splitlines() if "Error" in x or x.startswith("test not")] or ["failed"]
                reason = lines[0].strip()[:200]
            results.append({"repo": cand["repo"], "name": cand["name"], "cases": len(cand["cases"]),
                            "passed": kept is not None, **({} if kept else {"reason": reason})})
            if kept is None:
                self.counts["translate_rejected"] += 1
                continue
            rec = {"repo": cand["repo"], "path": cand["path"], "language": "python"}
            self.emit("translate_python_to_javascript", rec, self.chat(
                translate.PROMPT.format(name=cand["name"], source=cand["source"]), fence(kept, "javascript")))
            user = (f"Translate this JavaScript function to Python. Keep the function name `{cand['name']}`.\n\n"
                    f"{fence(kept, 'javascript')}")
            self.emit("translate_javascript_to_python", {**rec, "language": "javascript"},
                      self.chat(user, fence(cand["source"])))
        return results


def run(cfg: AnnotateConfig, translator: translate.Translator | None = None, tokenizer=None) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    chat = ChatRenderer(tokenizer or load_tokenizer(cfg.tokenizer))
    with ShardWriter(out, "data", cfg.shard_bytes) as writer:
        ann = Annotator(cfg, writer, chat, counts)
        current, buffered = None, []
        for rec in iter_records(cfg.input, errors=counts):
            if not isinstance(rec.get("text"), str) or "repo" not in rec:
                counts["malformed"] += 1
                continue
            counts["files"] += 1
            if rec["repo"] != current:
                ann.repo(buffered)
                current, buffered = rec["repo"], []
            try:
                ann.file(rec)
            except Exception as exc:  # one odd file never stops the step; it is counted and logged
                counts["failed_file"] += 1
                log.warning("skipping %s/%s: %r", rec.get("repo"), rec.get("path"), exc)
                continue
            if rec.get("language") == "python":
                buffered.append(rec)
        ann.repo(buffered)
        results = []
        if cfg.translate.enabled and ann.candidates:
            if translator is None:
                translator = translate.model_translator(resolve_base_model(cfg.translate.model),
                                                        cfg.translate.max_new_tokens, cfg.translate.attempts)
            results = ann.translations(translator)
    upstream = read_json(Path(cfg.input) / "report.json", {})
    report = {"step": "annotate", "counts": dict(counts), "translations": results[:1000],
              "packages": upstream.get("packages", []), "languages": upstream.get("languages", {}),
              "upstream": {**upstream.get("upstream", {}), "clean": upstream.get("counts", {})},
              "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
