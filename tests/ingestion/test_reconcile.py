"""The lake reconciles with the source: full load, simulated days + incremental runs,
incremental == full (byte for byte), late events, updates, hard deletes, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow.parquet as pq
import pytest

from ingestion.run import run_ingestion
from petpro.settings import Settings
from tests.ingestion.oracles import (
    SNAPSHOT_TABLES,
    assert_reconciled,
    file_digests,
    file_stats,
    lake_checksums,
    source_checksums,
    source_partition_checksums,
)

pytestmark = pytest.mark.slow


def test_full_load_reconciles(seeded: Settings, source_url: str) -> None:
    run = run_ingestion(seeded, full=True)
    assert run.ok
    assert_reconciled(seeded, source_url)
    with psycopg.connect(source_url) as conn:
        activities = conn.execute("select count(*) from activities").fetchone()[0]
        users = conn.execute("select count(*) from users").fetchone()[0]
    assert activities > 1000 and users > 100  # the seed really produced data to compare
    rec = run.tables["activities"]
    assert rec.rows + rec.rejected == activities
    assert run.tables["users"].rows + run.tables["users"].rejected == users
    assert run.record_path is not None and run.record_path.exists()


def test_incremental_sequence_matches_source_and_full(
    seeded: Settings, source_url: str, other_home: Settings
) -> None:
    from sourcedb.simulate import simulate_day

    run_ingestion(seeded)  # first run without a watermark = full
    for i in range(2):
        simulate_day(source_url, seed=100 + i, erasures=1, deactivations=1)
        run = run_ingestion(seeded)
        assert run.ok
        assert_reconciled(seeded, source_url)
        assert run.tables["activities"].mode == "incremental"
    # Simulated days add late events: their dates were re-extracted too.
    assert len(run.tables["activities"].touched_dates) >= 2

    # A from-scratch rebuild gives exactly the same files.
    run_ingestion(other_home, full=True)
    assert file_digests(other_home.raw_dir) == file_digests(seeded.raw_dir)


def test_updates_late_events_and_hard_deletes(seeded: Settings, source_url: str) -> None:
    run_ingestion(seeded)
    now = datetime.now(UTC)
    late_ts = now - timedelta(days=9)
    with psycopg.connect(source_url) as conn:
        booking = conn.execute(
            "select id from bookings where status <> 'cancelled' order by id limit 1"
        ).fetchone()[0]
        conn.execute(
            "update bookings set status = 'cancelled', cancellation_reason = 'test' where id = %s",
            (booking,),
        )
        # A customer with activities and bookings is erased: the cascade removes everything.
        victim = conn.execute(
            "select u.id from users u where exists (select 1 from activities a where a.user_id = u.id) "
            "and exists (select 1 from bookings b where b.user_id = u.id) order by u.id limit 1"
        ).fetchone()[0]
        conn.execute("delete from users where id = %s", (victim,))
        # One old activity deleted directly (no updated_at trace at all).
        old = conn.execute(
            "select id, timestamp from activities where timestamp < now() - interval '12 days' "
            "order by id limit 1"
        ).fetchone()
        conn.execute("delete from activities where id = %s", (old[0],))
        # A late event: recorded now, happened nine days ago.
        user = conn.execute("select id from users order by id limit 1").fetchone()[0]
        late_id = conn.execute(
            "insert into activities (user_id, type, timestamp) values (%s, 'login', %s) returning id",
            (user, late_ts),
        ).fetchone()[0]
    run = run_ingestion(seeded)
    assert run.ok
    assert_reconciled(seeded, source_url)

    bookings = pq.read_table(seeded.raw_dir / "bookings" / "data.parquet").to_pylist()
    changed = [b for b in bookings if b["id"] == str(booking)]
    assert changed and changed[0]["status"] == "cancelled"
    for table in ("users", "bookings", "activities"):
        root = seeded.raw_dir / table
        ids = {
            r["user_id" if table != "users" else "id"]
            for f in root.rglob("data.parquet")
            for r in pq.read_table(f, columns=["user_id" if table != "users" else "id"]).to_pylist()
        }
        assert str(victim) not in ids, table
    late_dir = seeded.raw_dir / "activities" / f"event_date={late_ts.date().isoformat()}"
    late_rows = pq.read_table(late_dir / "data.parquet", columns=["id"]).column("id").to_pylist()
    assert str(late_id) in late_rows
    assert late_ts.date() in run.tables["activities"].touched_dates
    old_dir = seeded.raw_dir / "activities" / f"event_date={old[1].date().isoformat()}"
    if (old_dir / "data.parquet").exists():
        old_rows = pq.read_table(old_dir / "data.parquet", columns=["id"]).column("id")
        assert str(old[0]) not in old_rows.to_pylist()


def test_rerun_is_idempotent(seeded: Settings, source_url: str) -> None:
    run_ingestion(seeded)
    before_digests = file_digests(seeded.raw_dir)
    before_stats = file_stats(seeded.raw_dir)
    second = run_ingestion(seeded)
    assert file_digests(seeded.raw_dir) == before_digests
    assert file_stats(seeded.raw_dir) == before_stats  # same inodes and mtimes: nothing rewritten
    assert all(r.files_changed == 0 for r in second.tables.values())
    # The watermark advanced to the source's max(updated_at) and stays there.
    with psycopg.connect(source_url) as conn:
        high = conn.execute("select max(updated_at) from users").fetchone()[0]
    assert second.tables["users"].watermark == high


def test_full_rebuild_of_one_table_changes_nothing(seeded: Settings, source_url: str) -> None:
    run_ingestion(seeded)
    before = file_digests(seeded.raw_dir)
    run = run_ingestion(seeded, ["bookings", "activities"], full=True)
    assert set(run.tables) == {"bookings", "activities"}
    assert file_digests(seeded.raw_dir) == before
    for table in SNAPSHOT_TABLES:
        assert lake_checksums(seeded, table) == source_checksums(source_url, table)


def test_dates_that_only_lost_erased_customers_rows_are_named(
    seeded: Settings, source_url: str, other_home: Settings
) -> None:
    """An erased customer's days are rewritten (their rows leave the lake) and named as
    erased-only, so dbt's window does not stretch back to them; a day that also lost a live
    customer's row is not. The erased-only days are rewritten from the lake's own files, not
    read from the source again, into the very files a from-scratch extraction writes."""
    from ingestion import lake

    run_ingestion(seeded)
    # What a run re-reads anyway (the watermark's look-back): those days stay in the window.
    lookback = set(run_ingestion(seeded).tables["activities"].touched_dates)
    held = {
        day: set(pq.read_table(path / "data.parquet", columns=["user_id"]).column(0).to_pylist())
        for day, path in lake.lake_partitions(seeded, "activities").items()
    }
    with psycopg.connect(source_url) as conn:
        victim = conn.execute(
            "select a.user_id::text from activities a join users u on u.id = a.user_id "
            "where u.role = 'customer' group by 1 order by count(*) desc, 1 limit 1"
        ).fetchone()[0]
    victim_days = sorted(day for day, users in held.items() if victim in users)
    assert len(victim_days) >= 3  # the seed gave the most active customer several days
    mixed = victim_days[0]
    with psycopg.connect(source_url) as conn:
        # On the victim's first day another customer's activity is deleted directly.
        other = conn.execute(
            "select id from activities where user_id::text <> %s "
            'and ("timestamp" at time zone %s)::date = %s order by id limit 1',
            (victim, seeded.timezone, mixed),
        ).fetchone()[0]
        conn.execute("delete from activities where id = %s", (other,))
        conn.execute("delete from users where id = %s", (victim,))
    run = run_ingestion(seeded)
    assert run.ok
    assert_reconciled(seeded, source_url)
    rec = run.tables["activities"]
    assert set(victim_days) <= set(rec.touched_dates)
    expected = [day for day in victim_days[1:] if day not in lookback]
    assert len(expected) >= 2
    assert rec.erased_dates == expected
    assert run.to_dict()["tables"]["activities"]["erased_dates"] == [
        d.isoformat() for d in expected
    ]
    # Rows from the source: those of the other dates only; the erased-only days' rows came
    # from the lake.
    source = source_partition_checksums(source_url, seeded.timezone)
    from_source = [d for d in rec.touched_dates if d not in set(expected)]
    assert rec.rows + rec.rejected == sum(source.get(d, (0, ""))[0] for d in from_source)
    assert rec.lake_rows == sum(source.get(d, (0, ""))[0] for d in expected) > 0
    # The same files as a from-scratch extraction of the source as it is now.
    run_ingestion(other_home, full=True)
    assert file_digests(other_home.raw_dir / "activities") == file_digests(
        seeded.raw_dir / "activities"
    )
