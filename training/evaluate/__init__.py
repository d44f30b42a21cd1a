"""`wingman eval`: line completion, infilling, HumanEval, generated tests, translation and
latency for any checkpoint, the base model and candidates side by side. See README.md."""
