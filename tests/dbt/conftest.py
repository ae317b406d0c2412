"""Fixtures of the dbt tests: one generated source, lake and built warehouse per time zone.

A fresh database on the session's PostgreSQL server is seeded (small: 300 customers x 90
days), extracted to a private lake by the real ingestion and built by the real dbt through
``warehouse.dbt.run_dbt``; the result is shared by every test of a module, because each dbt
invocation costs seconds. Nothing is mocked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest
from psycopg import sql

from petpro.settings import Settings, get_settings
from sourcedb.schema import create_schema

CUSTOMERS = 300
DAYS = 90
# The history spans the spring DST change in Europe (2025-03-30) and ends mid-month, so
# the last month is incomplete.
END_DATE = date(2025, 4, 17)


@dataclass
class World:
    """A seeded source, its lake and the warehouse dbt built from it."""

    url: str
    settings: Settings

    def marts(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.build_db), read_only=True)

    def pg(self) -> psycopg.Connection:
        return psycopg.connect(self.url)


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def make_source(pg_admin_url: str) -> Iterator[Callable[..., str]]:
    """Factory: a fresh, seeded source database (dropped after the module)."""
    created: list[str] = []

    def make(timezone: str = "UTC", *, seed: int = 42) -> str:
        from sourcedb.seed import seed_source

        name = f"dbt_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        url = _with_database(pg_admin_url, name)
        with psycopg.connect(url) as conn:
            create_schema(conn)
        seed_source(
            url, customers=CUSTOMERS, days=DAYS, end_date=END_DATE, seed=seed, timezone=timezone
        )
        return url

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def world_settings(home: Path, url: str, timezone: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    return get_settings(home=home, source_url=url, timezone=timezone, pii_key="test-pii-key")


def ingest(settings: Settings, **kwargs: object) -> None:
    from ingestion.run import run_ingestion

    run_ingestion(settings, **kwargs)


@pytest.fixture(scope="module")
def world_factory(
    make_source: Callable[..., str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], World]:
    """Factory: seed -> ingest -> `dbt build` in a new home; returns the World."""

    def build(timezone: str = "UTC") -> World:
        from warehouse.dbt import run_dbt

        url = make_source(timezone)
        settings = world_settings(tmp_path_factory.mktemp("dbt_home"), url, timezone)
        ingest(settings)
        run_dbt(settings, ["build"], capture=True)
        return World(url=url, settings=settings)

    return build
