"""A young or partial source builds and publishes; a failed gate leaves nothing publishable.

Real PostgreSQL, real ingestion, real dbt build, real publish: a source whose optional tables
(reviews, pets, addresses) are empty, one with no activity yet, and the sequence bad row →
gate fails → look-back passes → the bad row is still never published.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql

from ingestion.contracts import CONTRACTS
from ingestion.run import run_ingestion
from petpro.settings import Settings, get_settings
from sourcedb.schema import create_schema

pytestmark = pytest.mark.slow
END = date(2025, 5, 31)


@pytest.fixture
def source(pg_admin_url: str) -> Iterator[str]:
    """A small seeded source in a database of its own."""
    from sourcedb.seed import seed_source

    name = f"young_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_url) | {"dbname": name}
    url = psycopg.conninfo.make_conninfo(**info)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=80, days=30, end_date=END, seed=7)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def _settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return get_settings(home=home, source_url=url, pii_key="young-key", **overrides)


def _build_and_publish(settings: Settings, run_id: str) -> dict[str, int]:
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    run_dbt(settings, ["build"], capture=True)
    publication = publish(settings, run_id=run_id)
    return dict(publication.row_counts)


def _empty(url: str, *tables: str) -> None:
    with psycopg.connect(url) as conn:
        for table in tables:
            conn.execute(sql.SQL("delete from {}").format(sql.Identifier(table)))


def test_only_users_bookings_payments_and_activities_builds_and_publishes(
    tmp_path: Path, source: str
) -> None:
    _empty(source, "reviews", "pets", "user_addresses")
    settings = _settings(tmp_path, source)
    run = run_ingestion(settings)
    assert run.ok
    for table in ("reviews", "pets", "user_addresses"):
        path = settings.raw_dir / table / "data.parquet"
        assert pq.read_metadata(path).num_rows == 0
        assert pq.read_schema(path).equals(CONTRACTS[table].lake_schema())
    counts = _build_and_publish(settings, "young-partial")
    assert counts["mart_customer_growth"] > 0
    assert counts["mart_active_users"] > 0


def test_a_source_without_any_activity_builds(tmp_path: Path, source: str) -> None:
    _empty(source, "activities", "reviews", "pets", "user_addresses")
    settings = _settings(tmp_path, source)
    assert run_ingestion(settings).ok
    schema = pq.read_schema(
        settings.raw_dir / "activities" / "event_date=__HIVE_DEFAULT_PARTITION__" / "data.parquet"
    )
    assert schema.equals(CONTRACTS["activities"].lake_schema())
    counts = _build_and_publish(settings, "young-empty")
    assert counts["mart_customer_growth"] > 0  # customers signed up, none was active yet
    assert counts["mart_active_users"] >= 0

    # The first activities arrive: the placeholder goes, the day partitions take over.
    with psycopg.connect(source) as conn:
        conn.execute(
            "insert into activities (user_id, type, timestamp) "
            "select id, 'login', %s::timestamptz from users limit 3",
            (f"{END.isoformat()} 12:00:00+00",),
        )
    assert run_ingestion(settings, ["activities"]).ok
    assert not (settings.raw_dir / "activities" / "event_date=__HIVE_DEFAULT_PARTITION__").exists()
    assert (settings.raw_dir / "activities" / f"event_date={END.isoformat()}").is_dir()


def _growth_first_day(settings: Settings) -> date:
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        return con.execute(
            "select min(period_start) from mart_customer_growth where \"interval\" = 'day'"
        ).fetchone()[0]


def test_a_bad_row_is_never_published_even_after_the_look_back(tmp_path: Path, source: str) -> None:
    settings = _settings(tmp_path, source)
    assert run_ingestion(settings).ok
    _build_and_publish(settings, "before")
    first_day = _growth_first_day(settings)
    assert first_day >= date(2024, 1, 1)

    with psycopg.connect(source) as conn:
        conn.execute(
            "insert into users (first_name, last_name, email, password_hash, role, created_at) "
            "values ('Old', 'Timer', 'old@example.org', 'h', 'customer', '1970-01-01 00:00+00')"
        )
    refused = run_ingestion(settings, ["users"])
    # The look-back window has passed: the row is no longer in the extracted delta.
    later = _settings(tmp_path, source, lookback_minutes=0)
    again = run_ingestion(later, ["users"])
    _build_and_publish(later, "after")
    assert _growth_first_day(later) == first_day  # the 1970 signup was never published

    first_users, users = refused.tables["users"], again.tables["users"]
    assert not first_users.quality.success  # the gate failed: that refresh stopped there
    assert first_users.rejected == 1
    assert users.quality.success, users.quality.errors
    assert users.quarantined == 1
    assert any("still held in quarantine" in w for w in users.quality.warnings)
