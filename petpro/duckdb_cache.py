"""Give back the pages DuckDB keeps cached after a scan, between the steps of one process.

DuckDB keeps every block it read from a database file in its buffer pool until the pool is
full, and the pool only shrinks under pressure. In a process that runs several steps on one
connection (the publication: copy the marts, then the derived marts), each step starts with
the previous step's pages still resident: on the 320,000-customer home the recommender's one
scan of the 16M-row daily activity mart (68,362 rows out) left 341 MB of pages behind.
DuckDB has no "drop the cache" statement; lowering ``memory_limit`` makes the buffer manager
evict down to the new limit (to the temporary directory for what is not in the file), and
its allocator hands the freed memory back to the OS. The limit is then set back to the value
the caller configured, so later steps keep the same pool.
"""

from __future__ import annotations

import duckdb

# Small enough that every unpinned page goes; DuckDB refuses a limit below what running
# queries pin, and between steps nothing is running.
_EVICT_TO = "1MB"


def memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    """The connection's ``memory_limit`` as DuckDB prints it (e.g. ``488.2 MiB``)."""
    return str(con.execute("select current_setting('memory_limit')").fetchall()[0][0])


def release_cached_pages(con: duckdb.DuckDBPyConnection, restore: str | None = None) -> None:
    """Evict the buffer pool's unpinned pages, then set ``memory_limit`` back to ``restore``.

    ``restore`` defaults to the limit in force when called. Pass the configured value when
    you have it: DuckDB prints a limit rounded (``512MB`` reads back as ``488.2 MiB``), so
    restoring the printed form repeatedly would drift.
    """
    limit = restore if restore is not None else memory_limit(con)
    try:
        con.execute(f"set memory_limit = '{_EVICT_TO}'")
    except duckdb.OutOfMemoryException:
        # Something is pinned (a result still open on another cursor): whatever could be
        # evicted was; the limit stays as it was.
        return
    con.execute(f"set memory_limit = '{limit.replace(chr(39), chr(39) * 2)}'")
