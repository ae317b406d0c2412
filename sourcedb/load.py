"""Bulk loading of generated columns into PostgreSQL through ``COPY … FROM STDIN``.

Columns arrive as numpy arrays or Arrow arrays; each is rendered to text by Arrow compute
kernels (timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff+00``, NULL as ``\\N``) and the rows are
joined by ``binary_join_element_wise`` so that the COPY payload is the value buffer of one
Arrow string array — no per-row Python. Generated text never contains tabs, newlines or
backslashes, so COPY's text format needs no escaping.

``bulk_load_constraints`` drops foreign keys, primary/unique keys and secondary indexes
around a large load and re-creates them afterwards (one sort-based build each instead of
millions of incremental updates and per-row foreign-key checks), all inside the caller's
transaction, so a failed load leaves the schema as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg.copy import QueuedLibpqWriter

from sourcedb.schema import SOURCE_TABLES

NULL_TS = np.iinfo(np.int64).min  # sentinel for a NULL timestamp in int64 arrays
CHUNK_ROWS = 200_000


class Timestamps:
    """Marks an int64 array of UTC microseconds (``NULL_TS`` = NULL) as a timestamptz column."""

    def __init__(self, us: np.ndarray):
        self.us = np.asarray(us, dtype=np.int64)


class Money:
    """Marks an int64 array of cents as a numeric(10,2) column."""

    def __init__(self, cents: np.ndarray):
        self.cents = np.asarray(cents, dtype=np.int64)


def money_text(cents: np.ndarray) -> pa.Array:
    """Cents → '12.50' strings (also used inside JSON metadata, where it is a number)."""
    cents = np.asarray(cents, dtype=np.int64)
    units = pa.array(cents // 100).cast(pa.string())
    frac = pc.utf8_lpad(pa.array(cents % 100).cast(pa.string()), 2, "0")
    return pc.binary_join_element_wise(units, frac, ".")


def as_text(values: object) -> pa.Array:
    """Render one column to an Arrow string array in COPY text notation (NULL stays null)."""
    if isinstance(values, Timestamps):
        mask = values.us == NULL_TS
        arr = pa.array(values.us, type=pa.timestamp("us"), mask=mask if mask.any() else None)
        # Casting a zone-less timestamp is ~15x faster than a zoned one; the values are UTC,
        # so the UTC offset is appended as text.
        return pc.binary_join_element_wise(arr.cast(pa.string()), pa.scalar("+00"), "")
    if isinstance(values, Money):
        return money_text(values.cents)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values if pa.types.is_string(values.type) else values.cast(pa.string())
    arr = np.asarray(values)
    if arr.dtype == object:
        out = pa.array(arr, type=pa.string(), from_pandas=True)
    else:
        out = pa.array(arr).cast(pa.string())
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _payload(rows: pa.Array) -> memoryview:
    """The contiguous bytes of a string array's values (rows already end with a newline)."""
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[
        rows.offset : rows.offset + len(rows) + 1
    ]
    return memoryview(rows.buffers()[2])[offsets[0] : offsets[-1]]


def copy_columns(
    conn: psycopg.Connection,
    table: str,
    columns: Mapping[str, object],
    *,
    progress: Callable[[int], None] | None = None,
    freeze: bool = False,
) -> int:
    """COPY the given columns (all the same length) into ``table``; return the row count.

    ``freeze`` (only for a table truncated in the current transaction) writes the rows
    already frozen, sparing the hint-bit and vacuum work later readers would do.
    """
    names = list(columns)
    n = column_length(columns[names[0]]) if names else 0
    if any(column_length(columns[c]) != n for c in names):
        raise ValueError(f"columns of {table} differ in length")
    if n == 0:
        return 0
    column_list = ", ".join(f'"{c}"' for c in names)
    newline = pa.scalar("\n")
    options = " with (freeze)" if freeze else ""
    statement = f"copy {table} ({column_list}) from stdin{options}"
    # The queued writer sends from a background thread, so rendering the next chunk
    # overlaps with the server parsing the previous one.
    with conn.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for start in range(0, n, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n)
            rendered: dict[int, pa.Array] = {}  # the same array twice is rendered once
            parts = []
            for name in names:
                key = id(columns[name])
                if key not in rendered:
                    rendered[key] = as_text(_slice(columns[name], start, stop))
                parts.append(rendered[key])
            line = pc.binary_join_element_wise(
                *parts, "\t", null_handling="replace", null_replacement="\\N"
            )
            line = pc.binary_join_element_wise(line, pa.scalar(""), newline)
            for chunk in line.chunks if isinstance(line, pa.ChunkedArray) else [line]:
                copy.write(bytes(_payload(chunk)))
            if progress:
                progress(stop - start)
    return n


def column_length(values: object) -> int:
    if isinstance(values, Timestamps):
        return values.us.size
    if isinstance(values, Money):
        return values.cents.size
    return len(values)  # type: ignore[arg-type]


def _slice(values: object, start: int, stop: int) -> object:
    if isinstance(values, Timestamps):
        return Timestamps(values.us[start:stop])
    if isinstance(values, Money):
        return Money(values.cents[start:stop])
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.slice(start, stop - start)
    return values[start:stop]  # type: ignore[index]


def _schema_objects(conn: psycopg.Connection) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(constraints as (table, name, definition), plain index definitions) of source tables."""
    constraints = conn.execute(
        "select c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.contype "
        "from pg_constraint c join pg_class t on t.oid = c.conrelid "
        "where t.relname = any(%s) and t.relnamespace = 'public'::regnamespace "
        "and c.contype in ('p', 'u', 'f') "
        "order by case c.contype when 'f' then 0 else 1 end, c.conname",
        (list(SOURCE_TABLES),),
    ).fetchall()
    indexes = [
        r[0]
        for r in conn.execute(
            "select pg_get_indexdef(i.indexrelid) from pg_index i "
            "join pg_class t on t.oid = i.indrelid "
            "where t.relname = any(%s) and t.relnamespace = 'public'::regnamespace "
            "and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid) "
            "order by 1",
            (list(SOURCE_TABLES),),
        )
    ]
    return [(t, n, d) for t, n, d, _ in constraints], indexes


@contextmanager
def bulk_load_constraints(conn: psycopg.Connection) -> Iterator[None]:
    """Drop keys and indexes of the source tables for the block; re-create them after.

    Must run inside a transaction: on error the drops roll back with everything else.
    Foreign keys come back last and are validated then, so a broken reference still fails.
    """
    constraints, indexes = _schema_objects(conn)
    for table, name, _ in constraints:  # foreign keys first (ordered so), then keys
        conn.execute(f'alter table {table} drop constraint "{name}"')
    for definition in indexes:
        name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        conn.execute(f"drop index {name}")
    yield
    for definition in indexes:
        conn.execute(definition)
    for table, name, definition in reversed(constraints):
        conn.execute(f'alter table {table} add constraint "{name}" {definition}')
