"""Giving freed memory back to the system.

glibc keeps freed heap memory for reuse, and after the first large free it serves allocations up
to 32 MB from the heap rather than from mmap (its dynamic mmap threshold), so a tensor's memory
outlives the tensor in the resident set. After a load (the checkpoint read, each layer's
temporaries) that was ~210 MB of the default model's ~900 MB, never to be used again; after a
diagnostics pass, the window's cache. `malloc_trim` hands back every free page, in a few ms.
"""

from __future__ import annotations

import ctypes

try:
    _LIBC = ctypes.CDLL("libc.so.6")
    _TRIM = _LIBC.malloc_trim
except (OSError, AttributeError):
    _TRIM = None  # not glibc: nothing to do


def release_freed_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
