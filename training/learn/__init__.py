"""`wingman learn`: a repository adapter for the user's own code, checked before it is used.

collect (files.py) → hold out and dedupe (split.py) → samples (data.py: annotate + pack, and the
acceptance log) → LoRA through training/train.py, warm-started from the shipped adapter → the
same held-out holes before and after (check.py) → install on a win (model/repo_adapters.py).
run.py strings them together; wingman/commands/learn.py is the command line.
"""
