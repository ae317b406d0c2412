"""Allocator tuning for extraction: which Arrow memory pool to use, how glibc serves large
blocks, and when to give memory back.

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


# mallopt(3) parameter number of M_MMAP_THRESHOLD in glibc's <malloc.h>.
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def fix_mmap_threshold() -> None:
    """Keep glibc serving large blocks (≥ 128 KiB) with their own mmap, for the whole process.

    The driver's record batches (nanoarrow) and numpy's uuid text are malloc'ed, megabytes
    each, by one thread and freed by another. glibc starts by mmap-ing such blocks, but each
    free of one raises its threshold (up to 32 MiB), after which they come from the heap and
    arenas, where freed space is kept and fragments: on 13.3M activities peak RSS was 21-39 MB
    higher that way (docs/ingestion.md, "What the growth was"). A fixed threshold turns that dynamic raise off (glibc has no way back,
    hence process-wide); DuckDB and Arrow use their own allocators and are not affected.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


@contextlib.contextmanager
def memory_pool() -> Iterator[pa.MemoryPool]:
    """Make the extraction pool Arrow's default for the duration of a table's extraction
    (and fix glibc's mmap threshold, :func:`fix_mmap_threshold`)."""
    fix_mmap_threshold()
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
