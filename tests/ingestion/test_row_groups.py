"""A partition larger than a row group streams out in fixed groups, whatever its batches.

The lake's row groups are fixed at 16,384 rows so that a large day is never held whole in
memory (docs/ingestion.md, "What the growth was") while a file's bytes stay a function of its
rows: the same rows cut into different batches give the same file. Full groups may be encoded
on the partition writer's encoder threads; the files must be the very same bytes, and a
failure there must reach the caller and leave no file behind.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import lake
from ingestion.contracts import CONTRACTS
from ingestion.partition_writer import PartitionWriter
from ingestion.records import TableResult
from petpro.settings import Settings

SCHEMA = pa.schema([("id", pa.int64()), ("activity_type", pa.string())])


def _rows(n: int) -> pa.Table:
    return pa.table(
        {"id": list(range(n)), "activity_type": [f"type_{i % 21}" for i in range(n)]},
        schema=SCHEMA,
    )


def _write(
    path: Path,
    rows: pa.Table,
    cuts: list[int],
    encoder: ThreadPoolExecutor | None = None,
    row_group_size: int = lake.ROW_GROUP_SIZE,
) -> list[int]:
    """Write ``rows`` in batches cut at ``cuts``; return the rows buffered after each batch."""
    sink = lake.ParquetSink(path, SCHEMA, encoder=encoder, row_group_size=row_group_size)
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


def test_row_groups_encoded_on_a_pool_are_the_same_file(tmp_path: Path) -> None:
    # 313 groups of 128 rows through four threads: without the wait for each group's
    # predecessor they would interleave, and the file would differ or be corrupt.
    rows = _rows(40_000)
    cuts = list(range(1_000, 40_000, 1_000))
    inline, pooled = tmp_path / "inline" / "data.parquet", tmp_path / "pooled" / "data.parquet"
    _write(inline, rows, cuts, row_group_size=128)
    with ThreadPoolExecutor(max_workers=4) as encoder:
        _write(pooled, rows, cuts, encoder=encoder, row_group_size=128)

    assert pq.read_metadata(pooled).num_row_groups == 313
    assert pooled.read_bytes() == inline.read_bytes()
    assert pq.read_table(pooled).equals(rows)


class _FailingEncoder(ThreadPoolExecutor):
    """A real thread pool whose third task fails, as an encoder that runs out of disk."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.tasks = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            self.tasks += 1
            fail = self.tasks == 3

        def task() -> Any:
            if fail:
                raise OSError(28, "No space left on device")
            return fn(*args, **kwargs)

        return super().submit(task)


def test_a_group_that_fails_on_the_encoder_fails_the_file(tmp_path: Path) -> None:
    final = tmp_path / "day" / "data.parquet"
    encoder = _FailingEncoder()
    sink = lake.ParquetSink(final, SCHEMA, encoder=encoder, row_group_size=1_000)
    with pytest.raises(OSError, match="No space left"):
        for start in range(0, 10_000, 700):
            sink.write(_rows(10_000).slice(start, 700))
        sink.seal()
    sink.abort()
    encoder.shutdown()
    assert encoder.tasks >= 3
    assert not final.exists()
    assert list(final.parent.iterdir()) == []


def _activities(days: list[tuple[date, int]]) -> pa.Table:
    """Rows with the activities contract's lake schema: ``n`` rows on each day, in order."""
    schema = CONTRACTS["activities"].lake_schema()
    n = sum(count for _, count in days)
    columns = {field.name: pa.nulls(n, field.type) for field in schema}
    columns["id"] = pa.array([f"{i:032x}" for i in range(n)], pa.string())
    columns["activity_type"] = pa.array([f"type_{i % 21}" for i in range(n)], pa.string())
    return pa.table(columns, schema=schema)


def test_the_partition_writer_encodes_large_days_on_its_pool(settings: Settings) -> None:
    # Days of 40,000 and 50,000 rows (several full groups each, encoded on the writer's
    # two encoder threads, which also seal the files) around days smaller than a group.
    first = date(2026, 3, 1)
    days = [(first + timedelta(days=i), n) for i, n in enumerate([40_000, 30, 50_000, 7, 3])]
    rows = _activities(days)
    day_of_row = pa.array([day for day, count in days for _ in range(count)], pa.date32())
    contract = CONTRACTS["activities"]
    result = TableResult(table="activities")
    writer = PartitionWriter(settings, contract, result)
    for start in range(0, rows.num_rows, 7_000):
        batch = rows.slice(start, 7_000).combine_chunks().to_batches()[0]
        writer.write(batch, day_of_row.slice(start, batch.num_rows), rejected=False)
    writer.finish()

    assert result.rows == rows.num_rows
    start = 0
    for day, count in days:
        path = lake.partition_dir(settings, "activities", day) / lake.DATA_FILE
        expected = rows.slice(start, count)
        start += count
        meta = pq.read_metadata(path)
        sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
        assert sum(sizes) == count
        assert all(size == lake.ROW_GROUP_SIZE for size in sizes[:-1])
        assert pq.read_table(path).equals(expected)
        # The same bytes as the rows written whole, in the caller's thread.
        alone = settings.home / "alone" / day.isoformat() / lake.DATA_FILE
        with lake.sink(alone, contract.lake_schema()) as s:
            s.write(expected)
            s.close()
        assert path.read_bytes() == alone.read_bytes()
