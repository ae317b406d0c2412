"""An incremental snapshot merge, row group by row group, writes the bytes of a whole sort.

``ingestion.snapshots`` merges the changed rows into ``data.parquet`` one row group of the old
file at a time (docs/ingestion.md, "Merging a snapshot row group by row group"). The file must
be byte for byte what concatenating the kept rows with the changes and sorting the whole
table writes: here on real lake files of three row groups, with changes before the first key,
inside and between groups, after the last key, and rows dropped from every group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ingestion import lake
from ingestion.integrity import iter_verified
from ingestion.snapshots import _ascending, _holds_in_groups, _merge_sorted

SCHEMA = pa.schema([("id", pa.string()), ("status", pa.string()), ("amount", pa.int64())])
ROWS = 2 * lake.ROW_GROUP_SIZE + 5_000  # three row groups


def _table(numbers: list[int], status: str) -> pa.Table:
    return pa.table(
        {
            "id": [f"k{n:07d}" for n in numbers],
            "status": [status] * len(numbers),
            "amount": numbers,
        },
        schema=SCHEMA,
    )


def _write(path: Path, table: pa.Table) -> None:
    with lake.sink(path, SCHEMA, keep_empty=True) as sink:
        sink.write(table)
        sink.close()


@pytest.fixture
def old_file(tmp_path: Path) -> tuple[Path, pa.Table]:
    old = _table([2 * i + 2 for i in range(ROWS)], "old")  # even keys k0000002 ...
    path = tmp_path / "old" / "data.parquet"
    _write(path, old)
    return path, old


def test_merge_by_row_group_writes_the_bytes_of_a_whole_sort(
    old_file: tuple[Path, pa.Table], tmp_path: Path
) -> None:
    path, old = old_file
    groups = list(iter_verified("bookings", path, SCHEMA))
    assert len(groups) == 3, "the old file must span several row groups"
    last = 2 * ROWS
    # New rows: before the first key, inside each group, on group boundaries, after the end.
    new_numbers = [1, 3, 999, 16_385, 2 * lake.ROW_GROUP_SIZE + 1, last + 1, last + 7]
    # Changed rows (same key, new values) and rows whose key left the source.
    changed_numbers = [2, 4_000, 2 * lake.ROW_GROUP_SIZE, last]
    dropped_numbers = {6, 20_000, 40_000}
    delta = pa.concat_tables(
        [_table(new_numbers, "new"), _table(changed_numbers, "changed")]
    ).sort_by("id")
    gone = pa.array([f"k{n:07d}" for n in dropped_numbers] + delta["id"].to_pylist())
    kept = pc.invert(pc.is_in(old["id"], value_set=gone))

    expected_path = tmp_path / "expected" / "data.parquet"
    _write(expected_path, pa.concat_tables([old.filter(kept), delta]).sort_by("id"))
    merged_path = tmp_path / "merged" / "data.parquet"
    with lake.sink(merged_path, SCHEMA, keep_empty=True) as sink:
        _merge_sorted(sink, iter_verified("bookings", path, SCHEMA), kept, delta, "id")
        sink.close()

    assert lake.sha256_file(merged_path) == lake.sha256_file(expected_path)
    merged = pa.concat_tables(iter_verified("bookings", merged_path, SCHEMA))
    assert merged.num_rows == ROWS + len(new_numbers) - len(dropped_numbers)
    assert _ascending(merged["id"])


def test_holds_in_groups_finds_rows_in_any_row_group(old_file: tuple[Path, pa.Table]) -> None:
    path, old = old_file
    keys = old["id"]

    def holds(delta: pa.Table) -> bool:
        return _holds_in_groups(iter_verified("bookings", path, SCHEMA), keys, delta, "id")

    same = old.take([0, lake.ROW_GROUP_SIZE + 3, ROWS - 1])
    assert holds(same)
    edited = same.set_column(1, "status", pa.array(["old", "changed", "old"]))
    assert not holds(edited)
    assert not holds(_table([1], "new"))


def test_holds_in_groups_stops_at_the_first_changed_group(
    old_file: tuple[Path, pa.Table],
) -> None:
    """A changed row means the merge reads the file again: the check must not read it whole."""
    path, old = old_file
    read = []

    def groups() -> Iterator[pa.Table]:
        for group in iter_verified("bookings", path, SCHEMA):
            read.append(group.num_rows)
            yield group

    delta = old.take([5, lake.ROW_GROUP_SIZE + 3, ROWS - 1])
    delta = delta.set_column(1, "status", pa.array(["changed", "old", "old"]))
    assert not _holds_in_groups(groups(), old["id"], delta, "id")
    assert read == [lake.ROW_GROUP_SIZE]


def test_unsorted_keys_are_detected() -> None:
    assert _ascending(pa.chunked_array([["a", "b"], ["c"]]))
    assert not _ascending(pa.chunked_array([["a", "c"], ["b"]]))
    assert not _ascending(pa.array(["a", "a"]))
