"""Fixtures of the insights tests: one small history with incidents on known days, published.

A real PostgreSQL database is seeded with a few hundred customers over ~4 months, then the
simulator adds days one at a time: four weeks of hand-over, a run of normal days, then each
incident of ``sourcedb.simulate.INCIDENTS`` on a known day with normal days between them. Real
ingestion, a real dbt build and the real publisher with the insights step produce the
publication the tests read (once per session: about a minute and a half on 2 busy cores).
Tests that write (alerts) work on a copy of the home.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from petpro.settings import Settings, get_settings
from sourcedb.schema import create_schema

SEED_END = date(2026, 5, 31)
SEED_DAYS = 120
SEED_CUSTOMERS = 1_500
# The simulator's first weeks are not normal days: the seeder's customer base, growing about
# 1.5 % a day at its end, stops growing there and settles at the simulator's own visit rates
# (six seed pairs: active customers 5-9 % and bookings 2-20 % below the seeder's last
# fortnight, from the first simulated day), a level break the detector is right to notice
# (in two of the six, active customers 28-31 % under the line on the second or third
# simulated day) and absorbs within about two weeks. As in the benchmark
# (bench/bench_insights.py HANDOVER_DAYS), the normal days start after four weeks; the
# hand-over still counts in the false-alarm goal test (at most one per metric per 90 days).
HANDOVER_DAYS = 28
NORMAL_DAYS = 21  # simulated normal days before the first incident
# Incident days (offset from SEED_END): a normal day or more between them.
INCIDENT_DAYS: dict[str, int] = {
    name: HANDOVER_DAYS + offset
    for name, offset in {"payment_outage": 24, "signup_spike": 27, "booking_drop": 30}.items()
}
SIMULATED_DAYS = HANDOVER_DAYS + 32  # the last simulated day is complete once the next starts


@dataclass(frozen=True)
class IncidentHistory:
    settings: Settings
    source_url: str
    incidents: dict[str, date]
    normal_days: tuple[date, ...]  # simulated days after the hand-over, before the first incident
    first_simulated: date
    last_complete: date


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def incident_history(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IncidentHistory]:
    from ingestion.run import run_ingestion
    from insights.marts import derive_insight_marts
    from sourcedb.seed import seed_source
    from sourcedb.simulate import simulate_day
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    name = f"insights_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=SEED_CUSTOMERS, days=SEED_DAYS, end_date=SEED_END, seed=11)
    by_offset = {offset: incident for incident, offset in INCIDENT_DAYS.items()}
    for offset in range(1, SIMULATED_DAYS + 1):
        simulate_day(url, SEED_END + timedelta(days=offset), seed=7, incident=by_offset.get(offset))
    home = tmp_path_factory.mktemp("insights_home")
    settings = get_settings(home=home, source_url=url, pii_key="insights-test-key")
    run_ingestion(settings, full=True)
    run_dbt(settings, ["build"], capture=True)
    publish(settings, run_id="insights-fixture", derive=[derive_insight_marts])
    yield IncidentHistory(
        settings=settings,
        source_url=url,
        incidents={k: SEED_END + timedelta(days=v) for k, v in INCIDENT_DAYS.items()},
        normal_days=tuple(
            SEED_END + timedelta(days=HANDOVER_DAYS + k) for k in range(1, NORMAL_DAYS + 1)
        ),
        first_simulated=SEED_END + timedelta(days=1),
        last_complete=SEED_END + timedelta(days=SIMULATED_DAYS - 1),
    )
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture
def history_home(
    incident_history: IncidentHistory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """A private copy of the fixture's published tree (alerts are written next to it)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(incident_history.settings.published_dir, home / "published", symlinks=True)
    monkeypatch.setenv("PETPRO_HOME", str(home))
    for name in ("PETPRO_ALERT_WEBHOOK_URL", "PETPRO_SMTP_URL", "PETPRO_ALERT_RECIPIENTS",
                 "PETPRO_REPORT_RECIPIENTS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return get_settings(home=home, source_url=incident_history.source_url)
