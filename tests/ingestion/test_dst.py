"""A DST fall-back across midnight (America/Santiago: 24:00 → 23:00) in every extraction mode."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from ingestion.run import run_ingestion
from petpro.settings import Settings, get_settings
from tests.ingestion.oracles import lake_partition_checksums, source_partition_checksums

ZONE = "America/Santiago"
# 2025-04-06 03:00 UTC: clocks go from 24:00 (-03) back to 23:00 (-04) on 2025-04-05, so
# local 23:00-24:00 of the 5th happens twice and the 6th starts at 04:00 UTC.
FALL_BACK = datetime(2025, 4, 6, 3, 0, tzinfo=UTC)


def test_fall_back_across_midnight(
    settings: Settings, source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PETPRO_TIMEZONE", ZONE)
    monkeypatch.setenv("PETPRO_LOOKBACK_MINUTES", "0")  # runs see only what changed since
    santiago = get_settings()
    with psycopg.connect(source_url) as conn:
        user = conn.execute(
            "insert into users (first_name, last_name, email, password_hash, created_at) "
            "values ('S', 'T', 'st@example.org', 'h', '2025-01-01') returning id::text"
        ).fetchone()[0]
        # Every 10 minutes from 3 h before to 3 h after the change, and an anonymous event
        # (quarantined) in the repeated hour.
        for i in range(-18, 19):
            conn.execute(
                "insert into activities (user_id, type, timestamp) values (%s, 'login', %s)",
                (user, FALL_BACK + timedelta(minutes=10 * i)),
            )
        conn.execute(
            "insert into activities (user_id, type, timestamp) values (null, 'logout', %s)",
            (FALL_BACK + timedelta(minutes=25),),
        )
    first = run_ingestion(santiago, ["users", "activities"])
    assert first.ok
    assert set(first.tables["activities"].touched_dates) == {date(2025, 4, 5), date(2025, 4, 6)}
    assert lake_partition_checksums(santiago) == source_partition_checksums(source_url, ZONE)

    # A late event in the repeated hour, then a backfill of the day after the change.
    with psycopg.connect(source_url) as conn:
        conn.execute(
            "insert into activities (user_id, type, timestamp) values (%s, 'login', %s)",
            (user, FALL_BACK + timedelta(minutes=45)),
        )
    late = run_ingestion(santiago, ["activities"])
    assert late.tables["activities"].touched_dates == [date(2025, 4, 5)]
    assert lake_partition_checksums(santiago) == source_partition_checksums(source_url, ZONE)
    backfill = run_ingestion(santiago, dates=(date(2025, 4, 6), date(2025, 4, 6)))
    assert backfill.ok
    assert lake_partition_checksums(santiago) == source_partition_checksums(source_url, ZONE)
    again = run_ingestion(santiago, ["activities"])
    assert again.tables["activities"].touched_dates == []


def test_partitions_follow_the_servers_time_zone_rules(
    settings: Settings, source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planner and writer agree on every row's day even where the time-zone databases of
    PostgreSQL and of Arrow/Python differ (on this machine PostgreSQL 18's copy knows that
    British Columbia keeps UTC-7 after November 2026, the system's copy falls back to UTC-8):
    the partitions equal PostgreSQL's per-date counts and a second run has nothing to redo."""
    zone = "America/Vancouver"
    monkeypatch.setenv("PETPRO_TIMEZONE", zone)
    monkeypatch.setenv("PETPRO_LOOKBACK_MINUTES", "0")
    vancouver = get_settings()
    start = datetime(2026, 10, 31, 0, 0, tzinfo=UTC)
    with psycopg.connect(source_url) as conn:
        user = conn.execute(
            "insert into users (first_name, last_name, email, password_hash, created_at) "
            "values ('V', 'C', 'vc@example.org', 'h', '2026-01-01') returning id::text"
        ).fetchone()[0]
        conn.execute(
            "insert into activities (user_id, type, timestamp) "
            "select %s, 'login', %s::timestamptz + g * interval '20 minutes' "
            "from generate_series(0, 3 * 72) g",
            (user, start),
        )
    assert run_ingestion(vancouver, ["users", "activities"]).ok
    assert lake_partition_checksums(vancouver) == source_partition_checksums(source_url, zone)
    again = run_ingestion(vancouver, ["activities"])
    assert again.tables["activities"].touched_dates == []
    backfill = run_ingestion(vancouver, dates=(date(2026, 11, 1), date(2026, 11, 2)))
    assert backfill.ok
    assert lake_partition_checksums(vancouver) == source_partition_checksums(source_url, zone)
