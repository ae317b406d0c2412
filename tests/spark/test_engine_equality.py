"""The same lake built on DuckDB and on Spark publishes identical marts.

A source is seeded in Europe/Berlin over the spring DST change and extracted once; the lake
is copied into two homes, one per engine, and each runs the real pipeline steps
(``run_dbt`` build with every data and unit test, then ``publish``). Every published mart
must have the same columns and types and the same rows; money is compared exactly (to the
cent), doubles to 1e-12 relative. Two more rounds exercise the incremental paths without
--full-refresh: a simulated day plus a late event (DuckDB's delete+insert, Spark's
insert_overwrite of the window's activity_date partitions), then a customer erased in the
source (DuckDB's delete post-hooks, Spark's rebuild when a held customer is gone); after each
the marts must still be identical, and the erased customer absent.
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

from petpro.settings import Settings, get_settings
from petpro.vocabulary import CONTRACT_MARTS, DERIVED_MARTS
from sourcedb.schema import create_schema
from warehouse.spark_marts import mart_contracts

# Spark in local mode on a shared 2-core machine: minutes, not the suite default of 15.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]

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
    # Every mart dbt builds is compared, not a subset; the derived marts are computed in
    # Python from these at publish time (publish(derive=...)), the same code on both engines.
    assert set(left) == {c.name for c in mart_contracts(duck)}, "a dbt mart was not published"
    assert set(CONTRACT_MARTS) - DERIVED_MARTS <= set(left), "a contract mart was not published"
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


def late_event(url: str, at: datetime) -> None:
    """An activity recorded now for a customer, timestamped ``at`` (a late event)."""
    with psycopg.connect(url) as conn:
        customer = conn.execute(
            "select id from users where role = 'customer' order by created_at limit 1"
        ).fetchone()[0]
        conn.execute(
            'insert into activities (id, user_id, type, metadata, "timestamp") '
            "values (%s, %s, 'login', '{}', %s)",
            (uuid.uuid4(), customer, at),
        )


def test_duckdb_and_spark_publish_identical_marts(source_url: str, tmp_path: Path) -> None:
    from ingestion.run import run_ingestion
    from sourcedb.simulate import simulate_day

    duck = home_settings(tmp_path / "duckdb", source_url, "duckdb")
    spark = home_settings(tmp_path / "spark", source_url, "spark")

    # Round 1: the whole history, built from scratch with every data and unit test.
    run_ingestion(duck)
    copy_lake(duck, spark)
    for settings in (duck, spark):
        build_and_publish(settings, ["build"])
    assert_identical(duck, spark)
    assert len(published_marts(duck)["mart_customer_profile"][1]) > 200, "too little data"
    # The Spark home really ran on Spark: its marts are Spark tables, its build file only marts.
    spark_tables = Path(spark.spark_warehouse_location) / f"{spark.spark_schema}.db"
    assert (spark_tables / "mart_customer_profile").is_dir()
    assert (spark_tables / "int_customer_daily_activity" / f"activity_date={END_DATE}").is_dir()

    # Round 2: one more day of application life and a late event two days back, built
    # incrementally (Spark drops and rewrites the window's activity_date partitions).
    day = simulate_day(source_url, seed=11, timezone=TIMEZONE, erasures=0, deactivations=0)
    late_event(source_url, datetime.combine(END_DATE - timedelta(days=1), datetime.min.time(), UTC))
    run_ingestion(duck)
    copy_lake(duck, spark)
    for settings in (duck, spark):
        build_and_publish(settings, ["run"])
    assert_identical(duck, spark)
    with duckdb.connect(str(spark.published_db), read_only=True) as con:
        (latest,) = con.execute("select max(activity_date) from main.mart_active_users").fetchone()
    assert latest == day.day, "the incremental round did not reach the simulated day"

    # Round 3: a customer active early in the history is erased in the source.
    with psycopg.connect(source_url) as conn:
        victim = conn.execute(
            "select a.user_id::text from activities a join users u on u.id = a.user_id "
            "where u.role = 'customer' and a.\"timestamp\" < %s group by 1 "
            "order by count(*) desc, 1 limit 1",
            (datetime.combine(END_DATE - timedelta(days=60), datetime.min.time(), UTC),),
        ).fetchone()[0]
        conn.execute("delete from users where id = %s", (victim,))
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
