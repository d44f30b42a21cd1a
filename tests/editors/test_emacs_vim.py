"""The Emacs (eglot) and Vim (ALE) snippets of editors/README.md, run headless in the real editors
against `wingman serve` on the fake engine. Skipped with the reason when an editor or its LSP
client is not installed (`make editors-deps` installs them: editors/install-deps.sh).

Each editor script loops on its own event loop until the server's answer arrives (or a deadline
passes) and prints what it got as one JSON line; the assertions are made here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.editors.conftest import EDITORS, clean_env

EGLOT_SNIPPET = EDITORS / "emacs" / "wingman-eglot.el"
ALE_SNIPPET = EDITORS / "vim" / "wingman-ale.vim"
README = EDITORS / "README.md"
ELPA = Path("/usr/share/emacs/site-lisp/elpa")
ALE_DIR = Path("/usr/share/vim/vimfiles/pack/dist-bundle/opt/ale")

FAKE = {
    "completion": "return a + b\n",
    "reply": "```python\ndef test_add():\n    assert add(1, 2) == 3\n```\n",
    # The fake model finds `-` surprising here and prefers `+`: a hint (diagnostic) with a fix.
    "surprising": {"-": "+"},
}


def result_line(out: str) -> dict:
    for line in reversed(out.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise AssertionError(f"no RESULT line in the editor's output:\n{out[-3000:]}")


@pytest.mark.parametrize("snippet", [EGLOT_SNIPPET, ALE_SNIPPET], ids=["eglot", "ale"])
def test_readme_shows_the_tested_snippet(snippet):
    """The README's snippet is the file these tests load, byte for byte (no drift)."""
    body = snippet.read_text().strip()
    assert body in README.read_text(), f"{snippet.name} differs from its copy in editors/README.md"


# One scripted reply for both actions: the body for "code from comment", the test for "tests".
EGLOT_REPLY = ("```python\ndef add(a, b):\n    return a + b  # from the comment\n\n\n"
               "def test_add():\n    assert add(1, 2) == 3\n```\n")


# --- Emacs + eglot --------------------------------------------------------------------------

EGLOT_TEST = r"""
(require 'package)
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(require 'json)
(load (getenv "WINGMAN_SNIPPET"))
;; What a user sets: the command (here the fake engine, scripted) and options.
(setq wingman-server-command (list (getenv "WINGMAN_EXE") "serve" "--engine" "fake"))
(setq wingman-initialization-options
      (list :completion '(:fallback "on" :debounceMs 0 :gateThreshold 0)
            :diagnostics '(:debounceMs 0)
            :fakeEngine (json-read-from-string (getenv "WINGMAN_FAKE"))))
(setq eglot-sync-connect t)

(defun wait-until (pred seconds)
  (let ((deadline (+ (float-time) seconds)) value)
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    value))

(find-file (getenv "WINGMAN_FILE"))
(run-hooks 'post-command-hook)          ; eglot-ensure connects from the command loop
(wait-until #'eglot-current-server 30)

;; Completion on the empty line of the function body, retried while the model loads.
(goto-char (point-min)) (forward-line 1) (end-of-line)
(defun candidates ()
  (let ((capf (eglot-completion-at-point)))
    (and capf (all-completions "" (nth 2 capf)))))
(setq cands (wait-until #'candidates 30))

;; Code actions, chosen as a user would in eglot's completing-read list.
(setq last-nonmenu-event ?\r)          ; (else eglot pops up a mouse menu, as in batch mode)
(fset 'y-or-n-p (lambda (&rest _) t))   ; eglot asks before applying the server's edit: yes
(defun run-action (prefix)
  (let (picked)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (let ((names (mapcar (lambda (c) (if (consp c) (car c) c)) collection)))
                   (setq picked (seq-find (lambda (n) (string-prefix-p prefix n)) names))))))
      (condition-case err
          (eglot-code-actions (point) (point) nil t)
        (error (setq picked (format "error: %S" err)))))
    picked))

;; "Generate code from comment" on a function that has only its docstring: edits this file.
(erase-buffer)
(insert "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n")
(goto-char (point-min)) (forward-line 1) (end-of-line)
(setq picked (run-action "Generate code"))
(setq generated (wait-until (lambda () (and (string-match-p "from the comment" (buffer-string)) (buffer-string))) 30))

;; "Generate tests for add": a new file, which eglot cannot create: the snippet opens it.
(setq source (current-buffer))
(goto-char (point-min)) (forward-char 5)
(setq picked-tests (run-action "Generate tests"))
(setq test-buffer (wait-until (lambda () (get-buffer "test_calc.py")) 30))
(princ (concat "RESULT "
               (json-encode
                (list (cons 'server (and (eglot-current-server) t))
                      (cons 'candidates (or cands []))
                      (cons 'picked picked)
                      (cons 'text generated)
                      (cons 'pickedTests picked-tests)
                      (cons 'testFile (and test-buffer (buffer-file-name test-buffer)))
                      (cons 'testText (and test-buffer (with-current-buffer test-buffer (buffer-string))))))
               "\n"))
(kill-emacs 0)
"""


def test_emacs_eglot_snippet_completes_and_applies_a_code_action(tmp_path, server_cmd):
    if not shutil.which("emacs"):
        pytest.skip("emacs is not installed (make editors-deps: apt-get install emacs-nox elpa-eglot)")
    if not any(ELPA.glob("eglot-*")):
        pytest.skip(f"eglot is not installed in {ELPA} (make editors-deps: apt-get install elpa-eglot)")
    src = tmp_path / "calc.py"
    src.write_text("def add(a, b):\n    \n")
    script = tmp_path / "test.el"
    script.write_text(EGLOT_TEST)
    env = clean_env(tmp_path) | {
        "WINGMAN_SNIPPET": str(EGLOT_SNIPPET),
        "WINGMAN_EXE": server_cmd[0],
        "WINGMAN_FAKE": json.dumps(FAKE | {"reply": EGLOT_REPLY}),
        "WINGMAN_FILE": str(src),
    }
    proc = subprocess.run(["emacs", "--batch", "-Q", "-l", str(script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    got = result_line(proc.stdout + proc.stderr)
    assert got["server"] is True
    assert any("return a + b" in c for c in got["candidates"]), got
    assert got["picked"] == "Generate code from comment", got
    assert got["text"] and "    return a + b  # from the comment" in got["text"], (got, proc.stderr[-2000:])
    assert got["pickedTests"] == "Generate tests for add", got
    assert got["testFile"] == str(tmp_path / "tests" / "test_calc.py"), got
    assert "def test_add" in got["testText"] and "from calc import add" in got["testText"], got


# --- Vim + ALE ----------------------------------------------------------------------------------

ALE_TEST = r"""
filetype plugin on
let g:ale_completion_enabled = 1
let g:ale_lint_on_text_changed = 'never'
let g:ale_set_signs = 0
packadd ale
let g:wingman_command = $WINGMAN_EXE . ' serve --engine fake'
let g:wingman_options = {'completion': {'fallback': 'on', 'debounceMs': 0, 'gateThreshold': 0},
\                        'diagnostics': {'debounceMs': 0},
\                        'fakeEngine': json_decode($WINGMAN_FAKE)}
execute 'source ' . fnameescape($WINGMAN_SNIPPET)
let g:result = {'items': [], 'loclist': []}

function! s:Wait(cond, seconds) abort
  let l:deadline = reltimefloat(reltime()) + a:seconds
  while !eval(a:cond) && reltimefloat(reltime()) < l:deadline
    sleep 20m
  endwhile
  return eval(a:cond)
endfunction

function! s:OnCompletion(response) abort
  let l:r = get(a:response, 'result', v:null)
  let l:items = type(l:r) == v:t_dict ? get(l:r, 'items', []) : (type(l:r) == v:t_list ? l:r : [])
  let g:result.items = map(copy(l:items), {_, i -> get(i, 'insertText', i.label)})
  let g:answered = 1
endfunction

execute 'edit ' . fnameescape($WINGMAN_FILE)
ALELint
" Completion at the end of the empty body line, asked again while the model loads.
let s:params = {'textDocument': {'uri': ale#path#ToFileURI(expand('%:p'))},
\               'position': {'line': 1, 'character': 4}}
let s:deadline = reltimefloat(reltime()) + 30
while empty(g:result.items) && reltimefloat(reltime()) < s:deadline
  let g:answered = 0
  call ale#lsp_linter#SendRequest(bufnr(''), 'wingman', [0, 'textDocument/completion', s:params],
  \                               function('s:OnCompletion'))
  call s:Wait('g:answered', 10)
  if empty(g:result.items)
    sleep 100m
  endif
endwhile
" The hint on `-` reaches ALE's location list (ALELint above started the server as a linter).
call s:Wait('!empty(filter(copy(ale#engine#GetLoclist(bufnr(""))), {_, e -> get(e, "linter_name", "") is# "wingman"}))', 30)
let g:result.loclist = map(copy(ale#engine#GetLoclist(bufnr(''))),
\                          {_, e -> {'linter': get(e, 'linter_name', ''), 'lnum': e.lnum, 'col': e.col, 'text': e.text}})
call writefile(['RESULT ' . json_encode(g:result)], $WINGMAN_OUT)
qall!
"""


def test_vim_ale_snippet_completes_and_shows_hints(tmp_path, server_cmd):
    if not shutil.which("vim"):
        pytest.skip("vim is not installed (make editors-deps)")
    if not ALE_DIR.exists():
        pytest.skip(f"ALE is not installed in {ALE_DIR} (make editors-deps: apt-get install vim-ale)")
    src = tmp_path / "calc.py"
    src.write_text("def add(a, b):\n    \n\n\ndef sub(a, b):\n    return a - b\n")
    script = tmp_path / "test.vim"
    script.write_text(ALE_TEST)
    out = tmp_path / "result.txt"
    env = clean_env(tmp_path) | {
        "WINGMAN_SNIPPET": str(ALE_SNIPPET),
        "WINGMAN_EXE": server_cmd[0],
        "WINGMAN_FAKE": json.dumps(FAKE),
        "WINGMAN_FILE": str(src),
        "WINGMAN_OUT": str(out),
    }
    proc = subprocess.run(["vim", "-Nu", "NONE", "-i", "NONE", "-n", "-es", "-S", str(script)], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.exists(), (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    got = result_line(out.read_text())
    assert any("return a + b" in i for i in got["items"]), got
    hints = [e for e in got["loclist"] if e["linter"] == "wingman"]
    assert hints and hints[0]["lnum"] == 6, got
