"""The server-side sandbox for generated tests (moving to model/tasks/ with the one sandbox)."""
