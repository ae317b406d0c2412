"""Snapshot tables (all but ``activities``): incremental extraction merged by primary key.

A run extracts the rows whose ``updated_at`` is newer than the watermark minus the look-back
window and merges them by primary key into ``raw/<table>/data.parquet``; keys absent from the
source (hard deletes) are dropped. Rows that fail the row-level gate live in
``_rejected.parquet`` beside it, merged the same way (a fixed source row leaves the
quarantine). Both files are sorted by key, so a full rebuild and any sequence of incremental
runs give the same bytes. ``data.parquet`` exists even with zero rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion import lake
from ingestion.contracts import TableContract
from ingestion.extract import (
    Converter,
    fetch_all,
    fetch_table,
    quote_ident,
    quote_literal,
    select_sql,
    stream,
)
from ingestion.integrity import iter_verified, read_verified
from ingestion.quality import Sampler, quality_columns
from ingestion.records import TableResult
from ingestion.row_checks import RowGate
from petpro.settings import Settings

Progress = Callable[[str, int, int | None], None]


def ts_literal(value: datetime) -> str:
    return quote_literal(value.astimezone(UTC).isoformat()) + "::timestamptz"


def _holds(old: pa.Table, delta: pa.Table, key: str) -> bool:
    """Whether every row of ``delta`` is in ``old`` exactly (same key, same values)."""
    if delta.num_rows == 0:
        return True
    if old.num_rows == 0:
        return False
    where = pc.index_in(delta[key], value_set=old[key])
    if where.null_count:
        return False
    return old.take(where).equals(delta)


def _ascending(keys: pa.ChunkedArray | pa.Array) -> bool:
    """Whether ``keys`` is strictly increasing (how ingestion writes every snapshot file)."""
    if len(keys) < 2:
        return True
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    return bool(pc.all(pc.less(keys.slice(0, len(keys) - 1), keys.slice(1))).as_py())


def _holds_in_groups(
    groups: Iterator[pa.Table], keys: pa.ChunkedArray, delta: pa.Table, key: str
) -> bool:
    """:func:`_holds` against a file read a row group at a time (``groups``; ``keys``: its
    key column), stopping at the first group with a changed row: when the run did change
    rows, the merge reads the file again, so the check reads as little of it as it can."""
    if delta.num_rows == 0:
        return True
    if len(keys) == 0 or pc.index_in(delta[key], value_set=keys).null_count:
        return False
    for group in groups:
        found = group.filter(pc.is_in(group[key], value_set=delta[key]))
        if found.num_rows and not delta.take(pc.index_in(found[key], value_set=delta[key])).equals(
            found
        ):
            return False
    return True


def _merge_sorted(
    sink: lake.ParquetSink,
    groups: Iterator[pa.Table],
    kept: pa.ChunkedArray | pa.Array,
    delta: pa.Table,
    key: str,
) -> None:
    """Write the kept rows of ``groups`` (row groups of a file sorted by ``key``; ``kept``
    flags its rows in file order) merged with ``delta`` (sorted by ``key``), in key order.

    The sink writes fixed-size row groups, so the file is byte for byte what sorting the
    whole table at once writes, without the whole table in memory."""
    offset = start = 0
    for group in groups:
        if group.num_rows == 0:
            continue
        bound = group[key][group.num_rows - 1]
        rest = delta[key].slice(start)
        end = start + int(pc.sum(pc.less_equal(rest, bound)).as_py() or 0)
        part = pa.concat_tables(
            [group.filter(kept.slice(offset, group.num_rows)), delta.slice(start, end - start)]
        )
        sink.write(part.sort_by(key))
        offset += group.num_rows
        start = end
    sink.write(delta.slice(start))


def extract_snapshot(
    settings: Settings,
    conn: Any,
    contract: TableContract,
    result: TableResult,
    *,
    since: datetime | None,
    gate: RowGate,
    progress: Progress | None,
) -> Sampler:
    """Bring the table's snapshot up to date: everything when ``since`` is None, else the
    rows changed after ``since`` merged into the current files."""
    directory = lake.table_dir(settings, contract.table)
    data_path = directory / lake.DATA_FILE
    rejected_path = directory / lake.REJECTED_FILE
    result.mode = "full" if since is None else "incremental"
    converter = Converter(contract, None, gate)
    schema = contract.lake_schema()
    rejected_schema = lake.rejected_schema(schema)
    sampler = Sampler(columns=quality_columns(contract))
    key = contract.primary_key
    table_name = quote_ident(contract.table)
    total = fetch_all(conn, f"select count(*) from {table_name}")[0][0]
    done = 0
    if progress:
        progress(contract.table, 0, total)

    if since is None:
        with (
            lake.sink(data_path, schema, keep_empty=True, ledger=result.written) as data_sink,
            lake.sink(rejected_path, rejected_schema, ledger=result.written) as rejected_sink,
        ):
            for batch in stream(conn, select_sql(contract, order=quote_ident(key))):
                out = converter.convert(batch)
                data_sink.write(out.accepted)
                sampler.add(out.accepted)
                if out.rejected is not None:
                    rejected_sink.write(out.rejected)
                done += batch.num_rows
                if progress:
                    progress(contract.table, done, total)
            result.rows = data_sink.rows
            result.rejected = rejected_sink.rows
            changed = [(data_path, data_sink.close()), (rejected_path, rejected_sink.close())]
        result.record_files(changed)
        result.quarantined = result.rejected
        return sampler

    accepted: list[pa.RecordBatch] = []
    rejected: list[pa.RecordBatch] = []
    where = f"{quote_ident(contract.cursor)} > {ts_literal(since)}"
    for batch in stream(conn, select_sql(contract, where=where)):
        out = converter.convert(batch)
        accepted.append(out.accepted)
        if out.rejected is not None:
            rejected.append(out.rejected)
        done += batch.num_rows
        if progress:
            progress(contract.table, done, total)
    delta = pa.Table.from_batches(accepted, schema=schema)
    delta_rejected = pa.Table.from_batches(rejected, schema=rejected_schema)
    sampler.add(delta)
    changed_keys = pa.concat_arrays(
        [delta[key].combine_chunks(), delta_rejected[key].combine_chunks()]
    )
    source_keys = fetch_table(conn, f"select {quote_ident(key)}::text as k from {table_name}")
    source_keys_array = source_keys["k"].combine_chunks()

    def keep(old: pa.Table) -> pa.Table:
        if old.num_rows == 0:
            return old
        alive = pc.is_in(old[key], value_set=source_keys_array)
        unchanged = pc.invert(pc.is_in(old[key], value_set=changed_keys))
        return old.filter(pc.and_(alive, unchanged))

    # The data file is read whole only when it is not sorted by key (a lake written before
    # the files were sorted); otherwise its key column here and its rows a row group at a
    # time in the merge below (docs/ingestion.md, "Merging a snapshot row group by row group").
    old_keys = read_verified(contract.table, data_path, schema, columns=[key])[key]
    whole = None if _ascending(old_keys) else read_verified(contract.table, data_path, schema)
    old_rejected = read_verified(contract.table, rejected_path, rejected_schema)
    alive_old = pc.is_in(old_keys, value_set=source_keys_array)
    result.deleted = len(old_keys) - int(pc.sum(alive_old).as_py() or 0) if len(old_keys) else 0
    result.rows = delta.num_rows
    result.rejected = delta_rejected.num_rows
    if (
        result.deleted == 0
        and len(source_keys_array) == len(old_keys) + old_rejected.num_rows
        and (
            _holds(whole, delta, key)
            if whole is not None
            else _holds_in_groups(
                iter_verified(contract.table, data_path, schema), old_keys, delta, key
            )
        )
        and _holds(old_rejected, delta_rejected, key)
    ):
        # The same keys as the source and every changed row already in place, as is (the
        # look-back window re-reads rows already merged): the merge would rewrite the very
        # same bytes, so sorting and encoding the whole table again is skipped.
        result.quarantined = old_rejected.num_rows
        result.record_files([(data_path, False), (rejected_path, False)])
        return sampler
    merged_rejected = pa.concat_tables([keep(old_rejected), delta_rejected]).sort_by(key)
    result.quarantined = merged_rejected.num_rows
    with lake.sink(data_path, schema, keep_empty=True, ledger=result.written) as data_sink:
        if whole is not None:
            data_sink.write(pa.concat_tables([keep(whole), delta]).sort_by(key))
        else:
            kept = pc.and_(alive_old, pc.invert(pc.is_in(old_keys, value_set=changed_keys)))
            groups = iter_verified(contract.table, data_path, schema)
            _merge_sorted(data_sink, groups, kept, delta.sort_by(key), key)
        data_changed = data_sink.close()
    with lake.sink(rejected_path, rejected_schema, ledger=result.written) as rejected_sink:
        rejected_sink.write(merged_rejected)
        rejected_changed = rejected_sink.close()
    result.record_files([(data_path, data_changed), (rejected_path, rejected_changed)])
    return sampler
