"""Schema drift, quarantined rows, quality gates, time zones and the privacy of the lake."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.contracts import ContractDriftError
from ingestion.run import IngestionError, ingest_table, run_ingestion
from petpro.settings import Settings, get_settings
from petpro.vocabulary import PII_COLUMNS
from tests.ingestion.oracles import lake_checksums, source_checksums


def _users(url: str, n: int = 3) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "insert into users (first_name, last_name, email, password_hash, phone) "
            "select 'Zed' || g, 'Quux' || g, 'zed' || g || '@example.org', 'hash' || g, '+1555' || g "
            "from generate_series(1, %s) g returning id::text",
            (n,),
        ).fetchall()
    return [r[0] for r in rows]


def test_added_column_is_reported_and_ignored(settings: Settings, source_url: str) -> None:
    _users(source_url)
    with psycopg.connect(source_url) as conn:
        conn.execute("alter table users add column loyalty_tier text default 'gold'")
    run = run_ingestion(settings, ["users"])
    assert run.ok
    assert run.tables["users"].new_columns == ["loyalty_tier"]
    record = json.loads(run.record_path.read_text())
    assert "new source column 'loyalty_tier' ignored" in record["tables"]["users"]["warnings"]
    names = pq.read_schema(settings.raw_dir / "users" / "data.parquet").names
    assert "loyalty_tier" not in names
    assert lake_checksums(settings, "users") == source_checksums(source_url, "users")


@pytest.mark.parametrize(
    ("ddl", "table", "column", "expected", "found"),
    [
        ("alter table bookings drop column cancellation_reason", "bookings",
         "cancellation_reason", "text", "missing"),
        ("alter table bookings alter column amount type double precision", "bookings",
         "amount", "numeric", "double precision"),
    ],
)  # fmt: skip
def test_dropped_or_retyped_column_stops_that_table(
    settings: Settings,
    source_url: str,
    ddl: str,
    table: str,
    column: str,
    expected: str,
    found: str,
) -> None:
    _users(source_url)
    with psycopg.connect(source_url) as conn:
        conn.execute(ddl)
    with pytest.raises(ContractDriftError) as info:
        ingest_table(settings, table)
    err = info.value
    assert (err.table, err.column, err.expected, err.found) == (table, column, expected, found)
    message = str(err)
    assert table in message and column in message and expected in message
    assert "\n" not in message
    assert not (settings.raw_dir / table).exists()  # nothing written for that table
    # The other tables still run; the run names the failed one and raises at the end.
    with pytest.raises(IngestionError) as run_info:
        run_ingestion(settings, ["users", table])
    run = run_info.value.run
    assert run is not None and set(run.errors) == {table} and "users" in run.tables
    assert (settings.raw_dir / "users" / "data.parquet").exists()


def test_rejected_rows_are_quarantined_and_counted(settings: Settings, source_url: str) -> None:
    user = _users(source_url, 1)[0]
    with psycopg.connect(source_url) as conn:
        conn.execute(
            "insert into activities (user_id, type, timestamp) "
            "select %s, 'login', now() - interval '1 hour' from generate_series(1, 5)",
            (user,),
        )
        # Anonymous events break the contract's rule (user_id required).
        conn.execute(
            "insert into activities (user_id, type, timestamp) "
            "select null, 'logout', now() - interval '1 hour' from generate_series(1, 2)"
        )
        conn.execute(
            "insert into pets (owner_id, name, species, weight_kg) values "
            "(%s, 'ok', 'dog', 12.5), (%s, 'nan', 'cat', 'NaN')",
            (user, user),
        )
    run = run_ingestion(settings, ["pets", "activities"])
    assert run.tables["activities"].rejected == 2
    assert run.tables["activities"].rows == 5
    assert run.tables["pets"].rejected == 1 and run.tables["pets"].rows == 1
    record = json.loads(run.record_path.read_text())
    assert record["tables"]["activities"]["rejected"] == 2
    rejected = pa.concat_tables(
        [pq.read_table(p) for p in (settings.raw_dir / "activities").rglob("_rejected.parquet")]
    )
    assert rejected.num_rows == 2
    assert set(rejected.column("_reason").to_pylist()) == {"null user_id"}
    pets_rejected = pq.read_table(settings.raw_dir / "pets" / "_rejected.parquet")
    assert pets_rejected.column("_reason").to_pylist() == ["unparseable weight_kg"]
    data = pq.read_table(settings.raw_dir / "pets" / "data.parquet")
    assert data.column("weight_kg").to_pylist() == [pytest.approx(12.5)]
    # Quarantined rows stay out of data.parquet: readers glob data.parquet only.
    con = duckdb.connect()
    n = con.execute(
        "select count(*) from read_parquet(?)",
        [str(settings.raw_dir / "activities" / "*" / "data.parquet")],
    ).fetchone()[0]
    assert n == 5


def test_quality_errors_and_warnings(settings: Settings, source_url: str) -> None:
    user = _users(source_url, 1)[0]
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("alter type activity_type add value 'pet_adopted'")
        conn.execute(
            "insert into activities (user_id, type, timestamp) values "
            "(%s, 'login', now() - interval '2 hours'), (%s, 'pet_adopted', now() - interval '1 hour')",
            (user, user),
        )
        conn.execute(
            "insert into users (first_name, last_name, email, password_hash, created_at) "
            "values ('F', 'T', 'future@example.org', 'h', now() + interval '30 days')"
        )
    run = run_ingestion(settings, ["users", "activities"])
    activities = run.tables["activities"].quality
    assert activities.success  # an unknown activity type is a warning, not a failure
    assert any("type" in w and "pet_adopted" in w for w in activities.warnings)
    assert run.tables["activities"].rows == 2  # and the row is still extracted
    users = run.tables["users"].quality
    assert not users.success
    assert any("created_at" in e for e in users.errors)


def test_timezone_puts_late_evening_utc_into_next_local_day(
    settings: Settings, source_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = _users(source_url, 1)[0]
    monkeypatch.setenv("PETPRO_TIMEZONE", "Europe/Berlin")
    berlin = get_settings()
    evening = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)
    with psycopg.connect(source_url) as conn:
        conn.execute(
            "insert into activities (user_id, type, timestamp) values (%s, 'login', %s), "
            "(%s, 'logout', %s)",
            (user, evening, user, evening - timedelta(hours=1, minutes=30)),
        )
    run = ingest_table(berlin, "activities")
    assert run.touched_dates == [date(2025, 3, 10), date(2025, 3, 11)]
    root = berlin.raw_dir / "activities"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [
        "event_date=2025-03-10",
        "event_date=2025-03-11",
    ]
    late = pq.read_table(root / "event_date=2025-03-11" / "data.parquet")
    assert late.column("type").to_pylist() == ["login"]
    assert late.column("timestamp").to_pylist()[0] == evening


UA = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.0 Mobile/15E148 Safari/604.1": ("mobile", "iOS", "Mobile Safari"),
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1": ("tablet", "iOS", "Mobile Safari"),
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36": ("desktop", "Windows", "Chrome"),
    "Googlebot/2.1 (+http://www.google.com/bot.html)": ("other", None, "Googlebot"),
}
IPS = {
    "203.0.113.77": "203.0.113.0/24",
    "2001:db8:abcd:12:1::5": "2001:db8:abcd::/48",
    "not-an-ip": None,
}


def test_no_pii_in_the_lake_and_derived_columns_are_right(
    settings: Settings, source_url: str
) -> None:
    from sourcedb.seed import seed_source

    seed_source(source_url, customers=60, days=10, seed=5)
    user = _users(source_url, 1)[0]
    with psycopg.connect(source_url) as conn:
        for i, (ua, ip) in enumerate(zip(UA, [*IPS, None], strict=True)):
            conn.execute(
                "insert into activities (user_id, type, ip_address, user_agent, description, timestamp) "
                "values (%s, 'login', %s, %s, %s, now() - interval '3 hours')",
                (user, ip, ua, f"probe-{i}"),
            )
        raw_values: set[str] = set()
        for sql in (
            # Names are left out: a surname can legitimately equal a city ("Jackson").
            "select email, password_hash, phone from users",
            "select street, postal_code from user_addresses",
            "select ip_address, user_agent from activities",
        ):
            for row in conn.execute(sql).fetchall():
                raw_values.update(v for v in row if v and len(v) > 4)
    run_ingestion(settings)
    files = sorted(settings.lake_dir.rglob("*.parquet"))
    assert files
    key = settings.resolved_pii_key()
    for path in files:
        table = pq.read_table(path)
        assert not (set(table.column_names) & PII_COLUMNS), path
        for field in table.schema:
            if pa.types.is_string(field.type):
                values = set(table.column(field.name).drop_null().to_pylist())
                assert not (values & raw_values), (path, field.name)
    probes = pa.concat_tables(
        [pq.read_table(p) for p in (settings.raw_dir / "activities").rglob("data.parquet")]
    ).to_pylist()
    probes = {r["description"]: r for r in probes if (r["description"] or "").startswith("probe-")}
    for i, (ua, ip) in enumerate(zip(UA, [*IPS, None], strict=True)):
        row = probes[f"probe-{i}"]
        assert (row["device_type"], row["os_family"], row["browser_family"]) == UA[ua]
        expected_hash = hmac.new(key, ip.encode(), hashlib.sha256).hexdigest() if ip else None
        assert row["ip_hash"] == expected_hash
        assert row["ip_network"] == (IPS[ip] if ip else None)


def test_empty_pii_key_is_refused(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETPRO_PII_KEY", "")
    unkeyed = get_settings()
    from petpro.errors import PetProError

    with pytest.raises(PetProError, match="PETPRO_PII_KEY"):
        run_ingestion(unkeyed, ["activities"])
    assert not (unkeyed.raw_dir / "activities").exists()
    # The demo path: a generated key, stored and reused.
    run = run_ingestion(unkeyed, ["activities"], allow_generated_key=True)
    assert run.ok and (unkeyed.home / "pii.key").exists()
