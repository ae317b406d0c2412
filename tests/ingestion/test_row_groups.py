"""A partition larger than a row group streams out in fixed groups, whatever its batches.

The lake's row groups are fixed at 16,384 rows so that a large day is never held whole in
memory (docs/ingestion.md, "What the growth was") while a file's bytes stay a function of its
rows: the same rows cut into different batches give the same file.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import lake

SCHEMA = pa.schema([("id", pa.int64()), ("activity_type", pa.string())])


def _rows(n: int) -> pa.Table:
    return pa.table(
        {"id": list(range(n)), "activity_type": [f"type_{i % 21}" for i in range(n)]},
        schema=SCHEMA,
    )


def _write(path: Path, rows: pa.Table, cuts: list[int]) -> list[int]:
    """Write ``rows`` in batches cut at ``cuts``; return the rows buffered after each batch."""
    sink = lake.ParquetSink(path, SCHEMA)
    buffered = []
    for start, stop in zip([0, *cuts], [*cuts, rows.num_rows], strict=True):
        sink.write(rows.slice(start, stop - start))
        buffered.append(sink._buffered)
    sink.seal()
    sink.commit()
    return buffered


def test_a_large_partition_is_written_in_fixed_row_groups(tmp_path: Path) -> None:
    rows = _rows(40_000)
    whole, cut = tmp_path / "whole" / "data.parquet", tmp_path / "cut" / "data.parquet"
    _write(whole, rows, [])
    buffered = _write(cut, rows, [1, 5_000, 16_383, 16_385, 30_000, 39_999])

    meta = pq.read_metadata(cut)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [
        16_384,
        16_384,
        7_232,
    ]
    # Never more than one row group's worth of rows waits in memory.
    assert max(buffered) < 16_384
    assert whole.read_bytes() == cut.read_bytes()
    assert pq.read_table(cut).equals(rows)
