"""What the server sends the model and what training teaches it, in one place.

- `prompts`: the instruction tasks' chat messages (translate, tests, code from a comment) and the
  parsing of a reply (`extract_code`, `block_closed`);
- `window`: the completion prompt's window within a token budget, for every engine and for
  training's FIM samples.
The server, training and evaluation import these names; none keeps a copy.
"""
