"""Fixtures of the orchestration tests: one small seeded source and PETPRO_HOME per module.

The end-to-end tests share a module-scoped pipeline (a real PostgreSQL database seeded with
a few hundred customers over a few weeks, real ingestion, real dbt, real Dagster runs on an
instance under the home) because each Dagster run costs tens of seconds; the fast tests use
the function-scoped fixtures of ``tests/conftest.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from petpro.settings import Settings, get_settings
from sourcedb.schema import create_schema

SEED_END = date(2025, 3, 20)
SEED_DAYS = 21
SEED_CUSTOMERS = 250


@dataclass
class SeededSource:
    url: str
    end: date


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def seeded_source(pg_admin_url: str) -> Iterator[SeededSource]:
    from sourcedb.seed import seed_source

    name = f"orch_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=SEED_CUSTOMERS, days=SEED_DAYS, end_date=SEED_END, seed=11)
    yield SeededSource(url=url, end=SEED_END)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def home_settings(
    monkeypatch: pytest.MonkeyPatch, home: Path, url: str, timezone: str = "UTC"
) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PETPRO_HOME", str(home))
    monkeypatch.setenv("PETPRO_SOURCE_URL", url)
    monkeypatch.setenv("PETPRO_PII_KEY", "test-pii-key")
    monkeypatch.setenv("PETPRO_TIMEZONE", timezone)
    monkeypatch.setenv("PETPRO_PARTITIONS_START", "2025-01-01")
    return get_settings()


@pytest.fixture(scope="module")
def module_monkeypatch() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module", autouse=True)
def _restore_environ() -> Iterator[None]:
    """Put the environment back after each module (the tests set ``PETPRO_*`` variables), so
    other suites never see these homes."""
    import os

    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
