"""Independent oracles of the ingestion tests.

Row counts and order-independent checksums are computed twice, independently: in SQL on the
PostgreSQL source (from the table definitions) and in DuckDB over the lake's Parquet files.
A checksum is the md5 of the sorted ``id|updated_at-in-microseconds`` list, so any missing,
extra, duplicated or stale row changes it.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import psycopg

from ingestion.contracts import CONTRACTS
from petpro.settings import Settings

SNAPSHOT_TABLES = [t for t, c in CONTRACTS.items() if c.partitioning == "snapshot"]
SMALL = {"customers": 120, "days": 20}


def source_checksums(url: str, table: str) -> tuple[int, str]:
    with psycopg.connect(url) as conn:
        count, digest = conn.execute(
            f"select count(*), coalesce(md5(string_agg(id::text || '|' || "
            f"(extract(epoch from updated_at) * 1000000)::bigint::text, ',' "
            f"order by id::text collate \"C\")), '') from {table}"
        ).fetchone()
    return int(count), digest


def source_partition_checksums(url: str, timezone: str) -> dict[date, tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select (timestamp at time zone %s)::date, count(*), md5(string_agg(id::text || '|' || "
            "(extract(epoch from updated_at) * 1000000)::bigint::text, ',' "
            'order by id::text collate "C")) from activities group by 1',
            (timezone,),
        ).fetchall()
    return {d: (int(n), h) for d, n, h in rows}


def _lake_files(settings: Settings, table: str) -> list[str]:
    root = settings.raw_dir / table
    files = [*root.glob("data.parquet"), *root.glob("_rejected.parquet")]
    files += [*root.glob("event_date=*/data.parquet"), *root.glob("event_date=*/_rejected.parquet")]
    return [str(p) for p in files]


def lake_checksums(settings: Settings, table: str) -> tuple[int, str]:
    """Count and checksum over the lake's data and quarantine files of a table."""
    files = _lake_files(settings, table)
    if not files:
        return 0, ""
    con = duckdb.connect()
    count, digest = con.execute(
        "select count(*), coalesce(md5(string_agg(id || '|' || epoch_us(updated_at)::varchar, ',' "
        "order by id)), '') from read_parquet(?, union_by_name = true)",
        [files],
    ).fetchone()
    return int(count), digest


def lake_partition_checksums(settings: Settings) -> dict[date, tuple[int, str]]:
    files = _lake_files(settings, "activities")
    if not files:
        return {}
    con = duckdb.connect()
    rows = con.execute(
        "select event_date::date, count(*), md5(string_agg(id || '|' || "
        "epoch_us(updated_at)::varchar, ',' order by id)) "
        "from read_parquet(?, hive_partitioning = true, union_by_name = true) group by 1",
        [files],
    ).fetchall()
    return {d: (int(n), h) for d, n, h in rows}


def assert_reconciled(settings: Settings, url: str) -> None:
    for table in SNAPSHOT_TABLES:
        assert lake_checksums(settings, table) == source_checksums(url, table), table
    assert lake_partition_checksums(settings) == source_partition_checksums(url, settings.timezone)


def file_digests(root: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``root`` (the lake's raw zone)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def file_stats(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
