"""The row-level gate: every row checked, true counts and examples, a settable earliest date,
quarantined rows kept out of data.parquet for good."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest

from ingestion.quality import SAMPLE_ROWS
from ingestion.run import run_ingestion
from petpro.settings import Settings, get_settings

HISTORIC = 25_000  # more than the GX sample: the count must be the true one


def _insert_users(url: str, n: int, created_at: datetime | str, tag: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into users (first_name, last_name, email, password_hash, created_at) "
            "select 'A', 'B', %s || g || '@example.org', 'h', %s::timestamptz "
            "from generate_series(1, %s) g",
            (tag, created_at, n),
        )


def _lake_created(settings: Settings) -> list[datetime]:
    path = settings.raw_dir / "users" / "data.parquet"
    return pq.read_table(path, columns=["created_at"]).column("created_at").to_pylist()


def test_every_row_is_checked_and_the_message_says_what_how_many_and_which_values(
    settings: Settings, source_url: str
) -> None:
    assert HISTORIC > SAMPLE_ROWS
    _insert_users(source_url, HISTORIC, "1970-01-01 00:00:00+00", "old")
    _insert_users(source_url, 3, datetime.now(UTC), "new")
    run = run_ingestion(settings, ["users"])
    quality = run.tables["users"].quality
    assert not quality.success
    [message] = [e for e in quality.errors if "created_at" in e]
    assert "users.created_at" in message
    assert "not_before_earliest_date" in message
    assert f"{HISTORIC:,} row(s)" in message
    assert "1970-01-01" in message
    assert "PETPRO_EARLIEST_DATE" in message
    # The rows are quarantined with their reason, never in data.parquet.
    assert len(_lake_created(settings)) == 3
    rejected = pq.read_table(settings.raw_dir / "users" / "_rejected.parquet")
    assert rejected.num_rows == HISTORIC
    assert set(rejected.column("_reason").to_pylist()) == {
        f"created_at before {settings.plausible_since.isoformat()}"
    }
    assert run.tables["users"].rejected == HISTORIC


def test_negative_amounts_and_bad_ratings_are_quarantined_on_every_row(
    settings: Settings, source_url: str
) -> None:
    from sourcedb.seed import seed_source

    seed_source(source_url, customers=60, days=10, seed=5)
    with psycopg.connect(source_url) as conn:
        conn.execute("update bookings set amount = -amount where amount > 0")
        n = conn.execute("select count(*) from bookings where amount < 0").fetchone()[0]
    run = run_ingestion(settings, ["bookings"])
    quality = run.tables["bookings"].quality
    assert any(f"{n:,} row(s)" in e and "bookings.amount" in e for e in quality.errors)
    con = duckdb.connect()
    data = str(settings.raw_dir / "bookings" / "data.parquet")
    assert con.execute(f"select count(*) from '{data}' where amount < 0").fetchone()[0] == 0


def test_earliest_date_is_a_setting_and_a_change_rejudges_the_quarantine(
    settings: Settings, source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert_users(source_url, 2, "2003-06-01 12:00:00+00", "hist")
    _insert_users(source_url, 1, datetime.now(UTC), "now")
    first = run_ingestion(settings, ["users"])
    assert not first.tables["users"].quality.success
    assert len(_lake_created(settings)) == 1

    monkeypatch.setenv("PETPRO_EARLIEST_DATE", "1997-01-01")
    historic = get_settings()
    assert historic.plausible_since.isoformat() == "1997-01-01"
    run = run_ingestion(historic, ["users"])
    result = run.tables["users"]
    assert result.quality.success, result.quality.errors
    assert result.mode == "full"  # the quarantine was judged again under the new rule
    assert len(_lake_created(historic)) == 3
    assert not (historic.raw_dir / "users" / "_rejected.parquet").exists()
