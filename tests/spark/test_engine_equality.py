"""The same lake built on DuckDB and on Spark publishes identical marts.

A source is seeded in Europe/Berlin over the spring DST change and extracted once; the lake
is copied into two homes, one per engine, and each runs the real pipeline steps
(``run_dbt`` build with every data and unit test, then ``publish``). Every published mart
must have the same columns and types and the same rows; money is compared exactly (to the
cent), doubles to 1e-12 relative. A second round exercises the incremental paths (DuckDB's
delete+insert, Spark's insert_overwrite of activity-date partitions): new days, a late event
and a customer erased in the source are ingested, both engines run incrementally without
--full-refresh and publish again, and the marts must still be identical, the erased customer
absent from both.
"""

from __future__ import annotations

import math
import shutil
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pytest
from psycopg import sql

from ingestion.contracts import CONTRACTS
from petpro.settings import Settings, get_settings
from petpro.vocabulary import CONTRACT_MARTS
from sourcedb.schema import create_schema

pytestmark = pytest.mark.slow

TIMEZONE = "Europe/Berlin"
END_DATE = date(2025, 4, 17)  # 90 days ending after the DST change of 2025-03-30


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def source_url(pg_admin_url: str) -> Any:
    from sourcedb.seed import seed_source

    name = f"engines_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=250, days=90, end_date=END_DATE, seed=5, timezone=TIMEZONE)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def home_settings(home: Path, url: str, engine: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    return get_settings(
        home=home, source_url=url, timezone=TIMEZONE, pii_key="test-pii-key", engine=engine
    )


def copy_lake(source: Settings, target: Settings) -> None:
    shutil.rmtree(target.lake_dir, ignore_errors=True)
    shutil.copytree(source.lake_dir, target.lake_dir)


def published_marts(settings: Settings) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
    """Each published mart: its (column, type) list and its rows, sorted."""
    out = {}
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        marts = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'main' and table_name like 'mart%' order by 1"
            ).fetchall()
        ]
        for mart in marts:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [mart],
            ).fetchall()
            rows = con.execute(f'select * from main."{mart}"').fetchall()
            out[mart] = (columns, sorted(rows, key=repr))
    return out


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b  # Decimal money compares exactly, to the cent


def assert_identical(duck: Settings, spark: Settings) -> None:
    left, right = published_marts(duck), published_marts(spark)
    assert sorted(left) == sorted(right), "the engines published different sets of marts"
    assert set(CONTRACT_MARTS) <= set(left), "a contract mart was not published"
    for mart, (columns, rows) in left.items():
        other_columns, other_rows = right[mart]
        assert columns == other_columns, f"{mart}: columns differ: {columns} vs {other_columns}"
        assert len(rows) == len(other_rows), (
            f"{mart}: {len(rows)} rows on DuckDB, {len(other_rows)} on Spark"
        )
        for row, other in zip(rows, other_rows, strict=True):
            assert all(same_value(a, b) for a, b in zip(row, other, strict=True)), (
                f"{mart}: DuckDB row {row} differs from Spark row {other}"
            )


def build_and_publish(settings: Settings, args: list[str]) -> None:
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    run_dbt(settings, args, capture=True)
    publish(settings, run_id=f"{settings.engine}-{uuid.uuid4().hex[:6]}")


def test_duckdb_and_spark_publish_identical_marts(source_url: str, tmp_path: Path) -> None:
    from ingestion.run import run_ingestion

    duck = home_settings(tmp_path / "duckdb", source_url, "duckdb")
    spark = home_settings(tmp_path / "spark", source_url, "spark")
    with psycopg.connect(source_url) as conn:
        first, last = conn.execute(
            'select min("timestamp")::date, max("timestamp")::date from activities'
        ).fetchone()
    cut = last - timedelta(days=10)

    # Round 1: everything up to `cut`, built from scratch with every test (`dbt build`).
    run_ingestion(duck, [t for t in CONTRACTS if t != "activities"])
    run_ingestion(duck, dates=(first, cut))
    copy_lake(duck, spark)
    for settings in (duck, spark):
        build_and_publish(settings, ["build"])
    assert_identical(duck, spark)
    profile = published_marts(duck)["mart_customer_profile"][1]
    assert len(profile) > 200, "too little data to compare"

    # Round 2: the last days, a late event and an erasure, built incrementally.
    with psycopg.connect(source_url) as conn:
        victim = conn.execute(
            "select a.user_id::text from activities a join users u on u.id = a.user_id "
            "where u.role = 'customer' and a.\"timestamp\" < %s group by 1 "
            "order by count(*) desc, 1 limit 1",
            (datetime.combine(first + timedelta(days=20), datetime.min.time(), tzinfo=UTC),),
        ).fetchone()[0]
        conn.execute("delete from users where id = %s", (victim,))
        customer = conn.execute(
            "select id from users where role = 'customer' order by created_at limit 1"
        ).fetchone()[0]
        conn.execute(
            'insert into activities (id, user_id, type, metadata, "timestamp") '
            "values (%s, %s, 'login', '{}', %s)",
            (uuid.uuid4(), customer, datetime.combine(cut, datetime.min.time(), tzinfo=UTC)),
        )
    run_ingestion(duck)
    copy_lake(duck, spark)
    for settings in (duck, spark):
        build_and_publish(settings, ["run"])
    assert_identical(duck, spark)
    with duckdb.connect(str(spark.published_db), read_only=True) as con:
        for mart in ("mart_customer_activity_daily", "mart_customer_profile"):
            left = con.execute(
                f"select count(*) from main.{mart} where customer_id = ?", [victim]
            ).fetchall()
            assert left == [(0,)], f"the erased customer is still in {mart} on Spark"
        days = con.execute("select max(activity_date) from main.mart_active_users").fetchall()
    assert days[0][0] > cut, "the incremental round did not reach the new days"
