;;; wingman-eglot.el --- Wingman through eglot (Emacs 28+, eglot 1.9+)  -*- lexical-binding: t -*-
;; Completions arrive as ordinary completion items (eglot has no inline completion), so the
;; server is asked for them with completion.fallback = "on". Hints are Flymake diagnostics; code
;; actions (generate tests, translate, code from comment) are on M-x eglot-code-actions.
(require 'eglot)

(defvar wingman-server-command '("wingman" "serve")
  "How to start the Wingman server, e.g. '(\"~/wingman/.venv/bin/wingman\" \"serve\").")

(defvar wingman-initialization-options '(:completion (:fallback "on"))
  "Wingman's initializationOptions, a plist; keys as in editors/README.md.")

(defun wingman-eglot-contact (&optional _interactive)
  "The eglot contact for Wingman: the command and its initializationOptions."
  (append wingman-server-command
          (list :initializationOptions wingman-initialization-options)))

(add-to-list 'eglot-server-programs
             '((python-mode js-mode typescript-mode java-mode c++-mode c-mode go-mode rust-mode)
               . wingman-eglot-contact))

;; The model needs more than eglot's default 10 s to write tests or a translation.
(setq jsonrpc-default-request-timeout (max 120 jsonrpc-default-request-timeout))

;; eglot cannot create files, so the server returns a new file (generated tests, a translation)
;; as {uri, text} instead of an edit: open it here.
(defun wingman--open-returned-file (result)
  (let ((uri (and (listp result) (plist-get result :uri)))
        (text (and (listp result) (plist-get result :text))))
    (when (and (stringp uri) (stringp text) (eq (plist-get result :applied) :json-false))
      (let ((file (eglot--uri-to-path uri)))
        (make-directory (file-name-directory file) t)
        (with-current-buffer (find-file-other-window file)
          (when (= (buffer-size) 0) (insert text))))))
  result)
(advice-add 'eglot-execute-command :filter-return #'wingman--open-returned-file)

(add-hook 'python-mode-hook #'eglot-ensure)
;;; wingman-eglot.el ends here
