"""DuckDB plans over the activity lake with its real row count, whatever the first day held.

A history that began small (a handful of events on its first day, tens of thousands a day
later) is the normal shape of a growing marketplace. DuckDB estimated a multi-file Parquet
scan as the first file's rows times the number of files, so the 20M-event log of the bench
looked like 4,148 rows and every join of the log with a dimension built its hash table on the
log: the full rebuild ran out of memory (docs/warehouse.md, "Memory"). The source now reads
the files with ``union_by_name``, which reads every footer at planning and gives the exact
count. Real dbt compiles the source; real DuckDB plans it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contracts import CONTRACTS
from ingestion.lake import partition_dir
from petpro.settings import get_settings
from warehouse.dbt import run_dbt

FIRST_DAY_ROWS = 1
LATER_DAYS = 30
LATER_DAY_ROWS = 1_000


def _write_day(path: Path, day: date, rows: int) -> None:
    schema = CONTRACTS["activities"].lake_schema()
    columns = {field.name: pa.nulls(rows, field.type) for field in schema}
    columns["id"] = pa.array([f"{day}-{i}" for i in range(rows)])
    path.mkdir(parents=True)
    pq.write_table(pa.table(columns, schema=schema), path / "data.parquet")


def _scan_estimates(plan: list[dict]) -> list[int]:
    """Estimated cardinalities of the Parquet scans in a JSON plan of DuckDB."""
    found: list[int] = []
    for node in plan:
        extra = node.get("extra_info", {})
        if "READ_PARQUET" in node.get("name", "") + str(extra.get("Function", "")):
            found.append(int(extra["Estimated Cardinality"]))
        found.extend(_scan_estimates(node.get("children", [])))
    return found


def test_the_activity_source_is_planned_with_its_real_row_count(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path)
    start = date(2025, 1, 1)
    _write_day(partition_dir(settings, "activities", start), start, FIRST_DAY_ROWS)
    for offset in range(1, LATER_DAYS + 1):
        day = start + timedelta(days=offset)
        _write_day(partition_dir(settings, "activities", day), day, LATER_DAY_ROWS)
    run = run_dbt(
        settings,
        ["compile", "--quiet", "--inline", "select id from {{ source('petpro', 'activities') }}"],
        capture=True,
    )
    compiled = run.output.strip()
    assert compiled.startswith("select id from read_parquet("), run.output

    with duckdb.connect() as con:
        rendered = con.execute(f"explain (format json) {compiled}").fetchall()[0][1]
        real = con.execute(f"select count(*) from ({compiled}) as lake").fetchall()[0][0]

    assert real == FIRST_DAY_ROWS + LATER_DAYS * LATER_DAY_ROWS
    # The first file's rows times the files would say 31.
    assert _scan_estimates(json.loads(rendered)) == [real]
