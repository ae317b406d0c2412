"""petpro.duckdb_cache on a real DuckDB file: the pages a scan cached go, the limit stays."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from petpro.duckdb_cache import memory_limit, release_cached_pages


def _cached_mb(con: duckdb.DuckDBPyConnection) -> float:
    return con.execute(
        "select coalesce(sum(memory_usage_bytes), 0) / 1e6 from duckdb_memory() "
        "where tag = 'BASE_TABLE'"
    ).fetchone()[0]


@pytest.fixture
def scanned(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "pages.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table t as select range as x, md5(range::varchar) as y from range(1000000)"
        )
    con = duckdb.connect(str(path), read_only=True, config={"memory_limit": "256MB"})
    con.execute("select count(distinct y) from t").fetchall()
    return con


def test_release_drops_the_cached_pages_and_keeps_the_limit(
    scanned: duckdb.DuckDBPyConnection,
) -> None:
    before = _cached_mb(scanned)
    assert before > 10, f"the scan cached only {before:.1f} MB: nothing to test"
    release_cached_pages(scanned, "256MB")
    assert _cached_mb(scanned) < 2
    assert memory_limit(scanned) == "244.1 MiB"  # DuckDB's print of 256MB
    # The data is still there, read back from the file.
    assert scanned.execute("select count(*) from t").fetchone()[0] == 1_000_000


def test_release_without_a_value_restores_the_limit_in_force(
    scanned: duckdb.DuckDBPyConnection,
) -> None:
    release_cached_pages(scanned)
    assert _cached_mb(scanned) < 2
    assert memory_limit(scanned) in ("244.1 MiB", "244.0 MiB")
