"""Giving freed memory back to the system (glibc; elsewhere these do nothing).

glibc serves an allocation above its mmap threshold with mmap, and returns it on free. But the
threshold is dynamic: after the first large free it rises to that size (up to 32 MB), and from
then on large tensors come from the heap, where a freed block is kept, and split by the small
allocations that follow (a tensor's metadata is malloc'd too). Scoring a 1,400-token window
then grew the resident set by one chunk's logits (12.5 MB) per chunk, 220 MB in all; after a
load, ~210 MB of freed buffers stayed resident. So:
- `keep_large_allocations_out_of_the_heap`: a fixed threshold of 4 MB (which turns the dynamic
  one off). Above it are only the load's temporaries, KV caches past ~1,300 tokens per layer
  and scoring's logits; decode and prefill work in blocks under 2 MB, so their allocations are
  unchanged;
- `release_freed_memory`: `malloc_trim`, after a load and after scoring, hands back every free
  page of the heap, in a few ms.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's malloc.h
LARGE = 8 << 20

try:
    _LIBC = ctypes.CDLL("libc.so.6")
    _TRIM, _MALLOPT = _LIBC.malloc_trim, _LIBC.mallopt
except (OSError, AttributeError):
    _TRIM = _MALLOPT = None  # not glibc


def keep_large_allocations_out_of_the_heap() -> None:
    if _MALLOPT is not None:
        _MALLOPT(M_MMAP_THRESHOLD, LARGE)


def release_freed_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
