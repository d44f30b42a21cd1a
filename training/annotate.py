"""`wingman annotate`: clean files → training samples, each a list of (text, train) segments.

Every sample is rendered by the code the server uses to build its prompts (model/tasks/), so the
model is trained on exactly what it is sent:
- FIM in the engine's template and prompt window (model/tasks/window.py), in both orders, the
  middle ending in EOT;
- plain left-to-right windows;
- code-from-comment requests for documented functions, function→tests pairs mined from test
  suites, translation pairs by execution-checked self-training (training/translate.py), all in
  the server's own chat prompts (model/tasks/prompts.py, system message included), rendered with
  the tokenizer's chat template, loss on the answer only.
Files stream one at a time; only one repository's Python functions are held at once (the
collect step writes each repository's files together).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

from model.fim import WINGMAN
from model.tasks import prompts
from model.tasks.window import FimPromptBuilder, TokenizerEncoder
from training import mining, repo_fim, translate
from training.config import AnnotateConfig, resolve_base_model, to_dict
from training.io import ShardWriter, iter_records, peak_rss_mib, read_json, write_json

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


def fim_sample(builder: FimPromptBuilder, prefix: str, middle: str, suffix: str, budget: int,
               loss: str = "all") -> list[list]:
    """The prompt the server would send for a cursor between prefix and suffix (the same window,
    the same markers), then the middle and EOT.

    loss "middle": only the middle and its EOT are trained. A fine-tune has few tokens to teach
    FIM with, and ~90% of a sample is context the base model already predicts left to right."""
    pieces = builder.build(prefix, suffix, budget).pieces
    return [[p, loss == "all"] for p in pieces if p] + [[middle, True], [EOT, True]]


def fim_builders(tokenizer) -> dict[str, FimPromptBuilder]:
    """Wingman's template in the order the engine sends (SPM) and in PSM, both windowed in the
    tokenizer's tokens. Markers count one token each, as added to the vocabulary by pack."""
    enc = TokenizerEncoder(tokenizer)
    return {order: FimPromptBuilder(enc, replace(WINGMAN, order=order)) for order in ("spm", "psm")}


# ---------------------------------------------------------------- chat


class ChatRenderer:
    """(messages, answer) → (prompt, answer) segments with the tokenizer's own chat template: the
    prompt segment is the text LocalEngine.generate prefills (LocalEngine.chat_ids)."""

    def __init__(self, tokenizer):
        self.tok = tokenizer

    def __call__(self, messages: list, assistant: str) -> list[list]:
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
        self.fim = fim_builders(chat.tok)
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
                self.emit(f"fim_{order}", rec, fim_sample(self.fim[order], prefix, middle, suffix, cfg.fim_budget,
                                                          cfg.fim_loss))

    def repo(self, recs: list[dict]) -> None:
        try:
            self._repo([r for r in recs if r.get("language") == "python"])
        except Exception as exc:
            self.counts["failed_repo"] += 1
            log.warning("skipping the pairs of %s: %r", recs[0]["repo"] if recs else "?", exc)
        if self.cfg.repo_fim_rate > 0 and len(recs) > 1:
            try:
                self._repo_fim(recs)
            except Exception as exc:
                self.counts["failed_repo_fim"] += 1
                log.warning("skipping the repository FIM of %s: %r", recs[0]["repo"], exc)

    def _repo_fim(self, recs: list[dict]) -> None:
        """Repository-level FIM (training/repo_fim.py): other files of the package as context, in
        `<repo_name>`/`<file_sep>`/`<filename>` form, then the FIM prompt of a window of this file."""
        cfg = self.cfg
        files = {r["path"]: r["text"] for r in recs}
        enc = self.fim["spm"].enc

        def count(text: str) -> int:
            return len(enc.encode(text))

        for rec in recs:
            if self.rng.random() >= cfg.repo_fim_rate:
                continue
            context, used = repo_fim.repo_context(rec.get("package") or rec["repo"].split("==")[0], rec["path"],
                                                  rec["text"], files, cfg.repo_context_tokens, cfg.repo_context_files,
                                                  count)
            if not used:
                self.counts["repo_fim_no_context"] += 1
                continue
            wins = [w for w in windows(rec["text"], cfg.fim_window_chars) if w.strip()]
            if not wins:
                continue
            prefix, middle, suffix = fim_split(self.rng.choice(wins), self.rng, cfg.fim_max_middle_lines)
            order = "spm" if self.rng.random() < cfg.fim_spm_rate else "psm"
            self.emit("repo_fim", rec, [[context, cfg.fim_loss == "all"]] + fim_sample(
                self.fim[order], prefix, middle, suffix, cfg.fim_budget, cfg.fim_loss))
            self.counts["repo_fim_context_files"] += used

    def _repo(self, recs: list[dict]) -> None:
        """Python pairs for one repository: docstring/signature pairs, then function→tests."""
        cfg = self.cfg
        defs: dict[str, list] = {}
        tests: list[mining.TestFunction] = []
        for rec in recs:
            if mining.is_test_path(rec["path"]):
                tests.extend(mining.test_functions(rec["text"]))
                continue
            lines = rec["text"].split("\n")
            for fn in mining.functions(rec["text"], rec["path"]):
                if len(fn.source) > cfg.max_function_chars or fn.name.startswith("test"):
                    continue
                defs.setdefault(fn.name, []).append((fn, rec))
                if cfg.docstring_pairs and fn.docstring and len(fn.docstring) >= 20:
                    # As the server's "code from comment" on a stub: the file up to the docstring.
                    before = "\n".join(lines[: fn.stub_end_line])
                    messages = prompts.code_from_comment(before, fn.stub, "python")
                    self.emit("docstring_to_function", rec, self.chat(messages, fence(fn.source)))
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
                    # The server's request; it writes the import itself (model/tasks/testgen.py).
                    messages = prompts.tests(fn.source, fn.name, module_of(rec["path"]))
                    self.emit("function_to_tests", rec, self.chat(messages, fence(body)))
            cases = [(args, exp) for t in ts for callee, args, exp in t.cases if callee == name]
            cases = translate.convertible_cases(cases)
            if fn.toplevel and cases and cfg.translate.enabled and len(self.candidates) < cfg.translate.max_functions:
                self.candidates.append({"repo": rec["repo"], "path": rec["path"], "name": name,
                                        "source": fn.source, "cases": cases[:20]})

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
                prompts.translate(cand["source"], "python", "javascript"), fence(kept, "javascript")))
            self.emit("translate_javascript_to_python", {**rec, "language": "javascript"},
                      self.chat(prompts.translate(kept, "javascript", "python"), fence(cand["source"])))
        return results


def run(cfg: AnnotateConfig, translator: translate.Translator | None = None, tokenizer=None) -> dict:
    out = Path(cfg.output)
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    t0 = time.monotonic()
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
            buffered.append(rec)
        ann.repo(buffered)
        results = []
        if cfg.translate.enabled and ann.candidates:
            if translator is None:
                translator = translate.model_translator(resolve_base_model(cfg.translate.model),
                                                        cfg.translate.max_new_tokens, cfg.translate.attempts)
            results = ann.translations(translator)
    upstream = read_json(Path(cfg.input) / "report.json", {})
    wall = time.monotonic() - t0
    report = {"step": "annotate", "counts": dict(counts), "translations": results[:1000],
              "timing": {"wall_s": round(wall, 1), "files_per_s": round(counts["files"] / wall, 1) if wall else None,
                         "peak_rss_mib": peak_rss_mib()},
              "packages": upstream.get("packages", []), "languages": upstream.get("languages", {}),
              "upstream": {**upstream.get("upstream", {}), "clean": upstream.get("counts", {})},
              "config": to_dict(cfg)}
    write_json(out / "report.json", report)
    return report
