"""Arrow's memory pool for PetPro's processes: one that gives freed memory back to the system.

pyarrow allocates from mimalloc by default, and mimalloc keeps the pages a burst of work freed
for its own reuse. A refresh process does its Arrow work early (the extraction and the lake
files) and then waits beside dbt and runs the publication, whose peaks are the refresh's: at
320,000 customers it carried ~50 MB of freed extraction memory through both, which neither
``release_unused()`` nor ``malloc_trim`` gave back. jemalloc (long pyarrow's default on
Linux) or the system allocator do return it (docs/orchestration.md, "One dbt node at a time,
and Arrow's memory pool"). The entry points of PetPro's processes call
:func:`use_returning_pool` once: the ``petpro`` command and the Dagster code location.
``ARROW_DEFAULT_MEMORY_POOL`` set by the operator wins.
"""

from __future__ import annotations

import os

import pyarrow as pa

POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def use_returning_pool() -> str:
    """Make jemalloc (the system allocator where pyarrow lacks it) Arrow's default pool for
    the allocations that follow; return the pool's backend name. Buffers already allocated
    keep the pool they came from, so calling it late is safe, just less useful."""
    if os.environ.get(POOL_ENV):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return pool.backend_name
