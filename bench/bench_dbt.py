"""Benchmark of the dbt project: a full build versus a one-day incremental build, tests included.

A synthetic lake with exactly the contract's layout and columns is written directly with
DuckDB (seeding a PostgreSQL source of tens of millions of activities would take far longer
than the thing measured). Then, in ``--runs`` interleaved rounds (default 3, or
``PETPRO_BENCH_DBT_RUNS``): ``dbt build
--full-refresh`` is timed, one more day of activities is added to the lake, and ``dbt build``
of that day is timed — the models *and their tests*, with the vars of every Dagster run and
the day's window in ``PETPRO_DBT_MIN_DATE``/``PETPRO_DBT_MAX_DATE``, as the orchestrator passes
it (so dbt keeps its parse, and the tests run on the window, as in a nightly refresh). Each
round adds its own new day, so a round's full build holds one day more than the previous
round's (1/365 of the history). Every figure printed is the median of the rounds; the goal
line is the median of the rounds' incremental/full ratios. Sizes: ``--activities`` or
``PETPRO_BENCH_DBT_ACTIVITIES`` (default 20,000,000, as the issue asks), ``--days`` or
``PETPRO_BENCH_DBT_DAYS`` (default 365); customers are activities / 75 (the demo's ratio). The
lake and warehouse live in a temporary ``PETPRO_HOME`` unless ``PETPRO_BENCH_DBT_HOME`` names one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from bench.goals import add_runs_option, goal
from petpro.settings import get_settings
from warehouse.dbt import DbtRun

ACTIVITY_TYPES = (
    "login", "logout", "profile_update", "booking_created", "payment_made", "pet_created",
    "review_submitted", "booking_cancelled", "address_added", "notification_settings_updated",
)  # fmt: skip
START = date(2024, 1, 1)


def _uuid(expr: str, tag: int) -> str:
    """A deterministic UUID-shaped string from an integer SQL expression."""
    return f"printf('%08x-{tag:04x}-4000-8000-%012x', ({expr}) % 4294967296, {expr})"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({query}) to '{path}' (format parquet, compression zstd)")


def write_lake(home: Path, activities: int, days: int, *, extra_day: int = 0) -> tuple[date, int]:
    """Write a synthetic lake of ``days`` days, or with ``extra_day`` = n its n-th day after
    them (an average day's activities, ids after the previous days'); returns (last day
    written, customers)."""
    raw = home / "lake" / "raw"
    customers = max(activities // 75, 100)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    types = "[" + ", ".join(f"'{t}'" for t in ACTIVITY_TYPES) + "]"
    history = activities
    if not extra_day:
        span_us = days * 86_400_000_000
        _copy(con, f"""
            select {_uuid('i', 1)} as id,
                case when i % 50 = 0 then 'vendor' when i % 997 = 0 then 'admin' else 'customer' end as role,
                true as is_email_verified, true as active,
                date '1950-01-01' + cast(i * 7919 % 20000 as integer) as date_of_birth,
                ['male', 'female', 'other'][i % 3 + 1] as gender, 'en' as preferred_language,
                cast(null as timestamptz) as last_login,
                timestamptz '{START} 00:00:00+00' + to_microseconds(cast(i * 1.0 / {customers} * {span_us} as bigint)) as created_at,
                timestamptz '{START} 00:00:00+00' as updated_at, cast(null as timestamptz) as deleted_at
            from range({customers}) t(i)""", raw / "users" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 2)} as id, {_uuid('i', 1)} as user_id,
                ['Berlin', 'Paris', 'Austin', 'Leeds'][i % 4 + 1] as city, null::varchar as state,
                ['DE', 'FR', 'US', 'GB'][i % 4 + 1] as country, true as is_default,
                timestamptz '{START} 00:00:00+00' as created_at, timestamptz '{START} 00:00:00+00' as updated_at
            from range({customers}) t(i)""", raw / "user_addresses" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 3)} as id, {_uuid('i % ' + str(customers), 1)} as owner_id,
                ['dog', 'cat', 'bird', 'fish'][i % 4 + 1] as species, null::varchar as breed, null::date as birth_date,
                'unknown' as gender, 10.5::decimal(5, 2) as weight_kg,
                timestamptz '{START} 00:00:00+00' as created_at, timestamptz '{START} 00:00:00+00' as updated_at,
                null::timestamptz as deleted_at
            from range({customers * 13 // 10}) t(i)""", raw / "pets" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 4)} as id, {_uuid('i * 50', 1)} as user_id, 'Vendor ' || i as business_name,
                'Berlin' as city, null::varchar as state, 'DE' as country, 'active' as status,
                4.5::decimal(3, 2) as average_rating,
                timestamptz '{START} 00:00:00+00' as created_at, timestamptz '{START} 00:00:00+00' as updated_at
            from range(200) t(i)""", raw / "vendors" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 5)} as id, {_uuid('i % 200', 4)} as vendor_id, 'Service ' || i as name,
                ['grooming', 'veterinary', 'boarding', 'daycare', 'training', 'walking'][i % 6 + 1] as category,
                (20 + i % 80)::decimal(10, 2) as price, ['USD', 'EUR', 'GBP'][i % 3 + 1] as currency,
                60 as duration_minutes, true as is_active,
                timestamptz '{START} 00:00:00+00' as created_at, timestamptz '{START} 00:00:00+00' as updated_at
            from range(1200) t(i)""", raw / "services" / "data.parquet")  # fmt: skip
        bookings = activities // 20
        _copy(con, f"""
            select {_uuid('i', 6)} as id, {_uuid('i * 7 % ' + str(customers), 1)} as user_id,
                {_uuid('i % 1200', 5)} as service_id, null::varchar as pet_id,
                ts as start_time, ts as end_time,
                ['completed', 'completed', 'cancelled', 'no_show', 'confirmed'][i % 5 + 1] as status,
                (20 + i % 80)::decimal(10, 2) as amount, ['USD', 'EUR', 'GBP'][i % 1200 % 3 + 1] as currency,
                null::varchar as cancellation_reason, ts as created_at, ts as updated_at
            from (select i, timestamptz '{START} 00:00:00+00'
                         + to_microseconds(cast(i * 1.0 / {bookings} * {span_us} as bigint)) as ts
                  from range({bookings}) t(i))""", raw / "bookings" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 7)} as id, {_uuid('i', 6)} as booking_id,
                {_uuid('i * 7 % ' + str(customers), 1)} as user_id,
                (20 + i % 80)::decimal(10, 2) as amount, ['USD', 'EUR', 'GBP'][i % 1200 % 3 + 1] as currency,
                ['paid', 'paid', 'paid', 'refunded', 'failed'][i % 5 + 1] as status, 'paypal' as method,
                ts as paid_at, ts as created_at, ts as updated_at
            from (select i, timestamptz '{START} 00:00:00+00'
                         + to_microseconds(cast(i * 1.0 / {bookings} * {span_us} as bigint)) as ts
                  from range({bookings}) t(i))""", raw / "payments" / "data.parquet")  # fmt: skip
        _copy(con, f"""
            select {_uuid('i', 8)} as id, {_uuid('i * 7 % ' + str(customers), 1)} as user_id,
                {_uuid('i', 6)} as booking_id, {_uuid('i % 1200', 5)} as service_id,
                {_uuid('i % 200', 4)} as vendor_id, cast(1 + i % 5 as smallint) as rating, 'published' as status,
                timestamptz '{START} 00:00:00+00' as created_at, timestamptz '{START} 00:00:00+00' as updated_at
            from range({bookings // 4}) t(i)""", raw / "reviews" / "data.parquet")  # fmt: skip
        first, n_days, offset = START, days, 0
    else:
        per_day = activities // days  # one more average day
        first, n_days = START + timedelta(days=days + extra_day - 1), 1
        offset = activities + (extra_day - 1) * per_day
        activities = per_day
    span_us = n_days * 86_400_000_000
    # Customer j signs up at j/customers of the history, activity k happens at k/history of
    # it: drawing k's customer among the first k*customers/history keeps every activity after
    # its customer's signup, as in the source (lifecycle and growth reconcile on that).
    signed_up = f"least({customers}, 1 + (i + {offset}) * {customers} // {history})"
    staging = home / "lake" / "_bench_tmp"
    shutil.rmtree(staging, ignore_errors=True)
    con.execute(f"""
        copy (
            select {_uuid(f'i + {offset}', 9)} as id,
                {_uuid(f'(i * 2654435761) % {signed_up}', 1)} as user_id,
                {types}[(i * 31 % {len(ACTIVITY_TYPES)}) + 1] as type, null::varchar as description,
                case when i % 7 = 0 then '{{"bookingId": "b' || i || '", "amount": 12.50, "currency": "USD"}}'
                     else '{{}}' end as metadata,
                ts as "timestamp", ts as created_at, ts as updated_at,
                md5(i::varchar) as ip_hash, '10.0.0.0/24' as ip_network,
                ['mobile', 'desktop', 'tablet', 'other'][i % 4 + 1] as device_type,
                'iOS' as os_family, 'Safari' as browser_family,
                cast(ts as date) as event_date
            from (select i, timestamptz '{first} 00:00:00+00'
                         + to_microseconds(cast(i * 1.0 / {activities} * {span_us} as bigint)) as ts
                  from range({activities}) t(i))
        ) to '{staging}' (format parquet, compression zstd, partition_by (event_date), filename_pattern 'data')
    """)  # fmt: skip
    target = raw / "activities"
    for part in sorted(staging.iterdir()):
        (target / part.name).mkdir(parents=True, exist_ok=True)
        files = list(part.glob("*.parquet"))
        os.replace(files[0], target / part.name / "data.parquet")
    shutil.rmtree(staging, ignore_errors=True)
    return first + timedelta(days=n_days - 1), customers


def _load() -> float:
    return os.getloadavg()[0]


def _slowest(label: str, run: DbtRun) -> None:
    slowest = sorted(run.results, key=lambda r: r.execution_time, reverse=True)[:5]
    total = sum(r.execution_time for r in run.results)
    print(f"  slowest nodes of the {label} build (node time {total:.1f} s of {run.elapsed:.1f} s):")
    for r in slowest:
        print(f"    {r.unique_id.split('.', 2)[-1]:50s} {r.execution_time:6.1f} s")


def main(argv: list[str]) -> None:
    from orchestration.dbt_launcher import WINDOW_ENV
    from orchestration.manifest import dbt_run_vars
    from warehouse.dbt import run_dbt

    parser = argparse.ArgumentParser(prog="python -m bench dbt", description=__doc__)
    parser.add_argument(
        "--activities",
        type=int,
        default=int(os.environ.get("PETPRO_BENCH_DBT_ACTIVITIES", "20000000")),
        help="activities in the synthetic lake (default $PETPRO_BENCH_DBT_ACTIVITIES or 20M)",
    )
    parser.add_argument(
        "--days", type=int, default=int(os.environ.get("PETPRO_BENCH_DBT_DAYS", "365"))
    )
    add_runs_option(parser, "full build + one-day build", "PETPRO_BENCH_DBT_RUNS")
    args = parser.parse_args(argv)
    given = os.environ.get("PETPRO_BENCH_DBT_HOME")
    home = Path(given) if given else Path(tempfile.mkdtemp(prefix="petpro-bench-dbt-"))
    try:
        settings = get_settings(home=home, timezone="UTC")
        # The vars of every Dagster run, full or nightly: the same in both builds, so the
        # second keeps the first's parse, as a nightly refresh does.
        dbt_vars = dbt_run_vars(settings)
        t0 = time.perf_counter()
        _, customers = write_lake(home, args.activities, args.days)
        print(
            f"lake: {args.activities:,} activities, {customers:,} customers, {args.days} days "
            f"in {time.perf_counter() - t0:.1f} s; {args.runs} interleaved rounds of a full "
            "`dbt build --full-refresh` then one new day and an incremental `dbt build` of it "
            "(tests included)",
            flush=True,
        )
        fulls: list[float] = []
        incs: list[float] = []
        loads: list[float] = []
        for n in range(1, args.runs + 1):
            full = run_dbt(settings, ["build", "--full-refresh"], vars=dbt_vars, capture=True)
            day, _ = write_lake(home, args.activities, args.days, extra_day=n)
            # The window as the orchestrator passes it (dbt_launcher): in the environment,
            # so the vars, and with them dbt's partial parse, stay those of the full build.
            window = {WINDOW_ENV["min_date"]: str(day), WINDOW_ENV["max_date"]: str(day)}
            os.environ.update(window)
            try:
                inc = run_dbt(settings, ["build"], vars=dbt_vars, capture=True)
            finally:
                for key in window:
                    os.environ.pop(key, None)
            fulls.append(full.elapsed)
            incs.append(inc.elapsed)
            loads.append(_load())
            print(
                f"round {n}: full {full.elapsed:.1f} s ({len(full.results)} nodes), one-day "
                f"incremental of {day} {inc.elapsed:.1f} s ({len(inc.results)} nodes) = "
                f"{inc.elapsed / full.elapsed:.1%}; load {loads[-1]:.1f}",
                flush=True,
            )
            if n == args.runs:
                _slowest("full", full)
                _slowest("incremental", inc)
        ratio = statistics.median(i / f for i, f in zip(incs, fulls, strict=True))
        print(
            f"medians of {args.runs} rounds: full {statistics.median(fulls):.1f} s "
            f"({args.activities / statistics.median(fulls):,.0f} activities/s), one-day "
            f"incremental {statistics.median(incs):.1f} s; load {statistics.median(loads):.1f}",
            flush=True,
        )
        with duckdb.connect(str(settings.build_db), read_only=True) as con:
            n_events = con.execute(
                "select sum(events) from int_customer_daily_activity"
            ).fetchone()[0]
        print(f"activities in int_customer_daily_activity after the last round: {n_events:,}")
        goal(
            "one-day incremental dbt build / full dbt build (tests included)",
            ratio,
            0.10,
            f"{ratio:.1%}",
            "< 10 %",
        )
    finally:
        if not given:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
