"""What the server sends the model and what training teaches it, in one place.

- `prompts`: the instruction tasks' chat messages (translate, tests, code from a comment) and the
  parsing of a reply (`extract_code`, `block_closed`);
- `window`: the completion prompt's window within a token budget, for every engine and for
  training's FIM samples;
- the checkers of what the model writes: `verify` (a verified translation: candidates, choice,
  the words for what was checked), built on `toolchains` (node, tsc, javac, g++, rustc),
  `differential` (source and candidate on the same inputs, in the sandbox), `bridge_runtime`
  (.py/.js: the JSON bridge), `equivalence` (the pinned rules), `branches` (coverage), and
  `examples` (code from a comment: parses, its docstring's examples hold).
The server, training and evaluation import these names; none keeps a copy.
"""
