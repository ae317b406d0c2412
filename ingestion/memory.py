"""Allocator tuning for extraction: which Arrow memory pool to use and when to give memory back.

Extraction allocates record batches in the reader thread and frees them in the encoder
threads; the choice of allocator decides whether such cross-thread frees are returned or
hoarded, and so whether peak memory stays flat with the table size.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator

import pyarrow as pa


def extraction_pool() -> pa.MemoryPool:
    """jemalloc when pyarrow has it: batches are allocated by the reader thread and freed by
    the encoder threads, and the default mimalloc pool (like glibc malloc) keeps such
    cross-thread frees around; measured on 2.7M activities: jemalloc 276 MB peak RSS and
    flat, mimalloc ~400 MB, glibc 2 GB and growing with the table."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.default_memory_pool()


@contextlib.contextmanager
def memory_pool() -> Iterator[pa.MemoryPool]:
    """Make the extraction pool Arrow's default for the duration of a table's extraction."""
    previous = pa.default_memory_pool()
    pool = extraction_pool()
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(previous)


def release_memory() -> None:
    """Hand freed extraction buffers back to the system before the next phase."""
    extraction_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed arenas otherwise
