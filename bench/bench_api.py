"""Benchmark of the analytics API: latency under 50 concurrent clients vs the original live SQL.

What it does, on one data set:

1. Starts an embedded PostgreSQL (or uses ``PETPRO_BENCH_SOURCE_URL``), creates the PetPro
   schema and fills it server-side with ``generate_series``: ``PETPRO_BENCH_API_ACTIVITIES``
   activities (default 1,000,000; the issue's target is 10,000,000) over
   activities ÷ 100 users (2 % of them admins, whose activities the customer metrics ignore).
2. Builds a publication for the marts the benchmarked endpoints read (customer-level
   daily activity and profile streamed from PostgreSQL through ADBC/Arrow, the aggregates in
   DuckDB) and writes ``published/warehouse.duckdb`` like the publisher does.
3. Serves the API with uvicorn in a separate process and fires requests from 50 concurrent
   httpx clients on loopback: p50/p99 latency and requests/s per endpoint.
4. Runs the original dashboard's live SQL (written from the NestJS service's queries, restricted
   to customers as the marts are) on PostgreSQL for the same answers, checks that the answers
   agree with the API's, and prints the speed-up.

Goal: p99 < 50 ms and ≥ 100× faster than live SQL at 10M activities. Options:
``--requests N`` per endpoint (default 1000), ``--concurrency`` (50), ``--keep`` to keep the
temporary home. Prints figures; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ACTIVITY_MIX = [
    "login", "login", "login", "login", "logout", "logout", "profile_update", "booking_created",
    "booking_created", "payment_made", "pet_updated", "review_submitted", "booking_cancelled",
    "notification_settings_updated", "address_updated", "pet_created",
]  # fmt: skip
START, END = "2024-01-01", "2024-12-31"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate(url: str, activities: int) -> None:
    """Fill the source server-side; users sign up over 2024, activities follow their signup."""
    import psycopg

    users = max(1000, activities // 100)
    mix = "array[" + ",".join(f"'{t}'" for t in ACTIVITY_MIX) + "]::activity_type[]"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """insert into users (first_name, last_name, email, password_hash, role, gender,
                                  date_of_birth, created_at)
               select 'First' || i, 'Last' || i, 'user' || i || '@bench.invalid', 'x',
                      (case when i %% 50 = 0 then 'admin' else 'customer' end)::user_role,
                      (array['male', 'female', 'other'])[1 + i %% 3]::gender,
                      date '1950-01-01' + (i * 37 %% 18000),
                      timestamptz '2024-01-01' + (i::float8 / %s) * interval '360 days'
               from generate_series(1, %s) as i""",
            (users, users),
        )
        conn.execute(
            """insert into user_addresses (user_id, city, country, is_default)
               select id, (array['Berlin', 'Paris', 'Austin', 'Lyon'])[1 + abs(hashtext(id::text)) % 4],
                      (array['DE', 'FR', 'US', 'FR'])[1 + abs(hashtext(id::text)) % 4], true
               from users"""
        )
        conn.execute(
            """insert into pets (owner_id, name, species)
               select id, 'pet', (array['dog', 'cat', 'bird', 'dog'])[1 + abs(hashtext(id::text)) % 4]::pet_species
               from users where abs(hashtext(id::text)) % 5 <> 0"""
        )
        conn.execute(
            "create temp table u as select row_number() over (order by id) as rn, id, created_at from users"
        )
        conn.execute(
            f"""insert into activities (user_id, type, "timestamp")
                select u.id, ({mix})[1 + (g * 7919) %% {len(ACTIVITY_MIX)}],
                       u.created_at + ((g * 2654435761::bigint) %% 1000000)::float8 / 1000000
                                      * (timestamptz '2025-01-01' - u.created_at)
                from generate_series(1, %s::bigint) as g
                join u on u.rn = 1 + (g * 31) %% %s""",
            (activities, users),
        )
        conn.execute("analyze")


def build_publication(url: str, path: Path) -> None:
    """The published marts the benchmarked endpoints read, computed from the source."""
    import adbc_driver_postgresql.dbapi as pg
    import duckdb

    with pg.connect(url) as src, src.cursor() as cur:
        cur.execute(
            """select a.user_id::text as customer_id, (a."timestamp" at time zone 'UTC')::date as activity_date,
                      a.type::text as activity_type, count(*)::bigint as events
               from activities a join users u on u.id = a.user_id and u.role = 'customer'
               group by 1, 2, 3"""
        )
        daily = cur.fetch_arrow_table()
        cur.execute(
            """select u.id::text as customer_id, u.created_at as signup_at,
                      (u.created_at at time zone 'UTC')::date as signup_date,
                      case when u.date_of_birth is null then 'unknown'
                           when age(date '2025-01-01', u.date_of_birth) < interval '25 years' then '18-24'
                           when age(date '2025-01-01', u.date_of_birth) < interval '35 years' then '25-34'
                           when age(date '2025-01-01', u.date_of_birth) < interval '45 years' then '35-44'
                           when age(date '2025-01-01', u.date_of_birth) < interval '55 years' then '45-54'
                           when age(date '2025-01-01', u.date_of_birth) < interval '65 years' then '55-64'
                           else '65+' end as age_group,
                      coalesce(u.gender::text, 'unknown') as gender,
                      coalesce(ad.country, 'unknown') as country, coalesce(ad.city, 'unknown') as city,
                      'desktop' as device_type,
                      coalesce((select array_agg(distinct p.species::text) from pets p where p.owner_id = u.id),
                               array[]::text[]) as pet_species,
                      (select count(*) from activities b where b.user_id = u.id and b.type = 'booking_created')
                          as bookings
               from users u left join user_addresses ad on ad.user_id = u.id and ad.is_default
               where u.role = 'customer'"""
        )
        profile = cur.fetch_arrow_table()
        cur.execute('select max("timestamp") from activities')
        hwm = cur.fetchone()[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("set timezone = 'UTC'")
    con.register("daily_arrow", daily)
    con.register("profile_arrow", profile)
    con.execute("create table mart_customer_activity_daily as select * from daily_arrow")
    con.execute(
        "create table mart_customer_profile as "
        "select * replace (bookings::BIGINT as bookings) from profile_arrow"
    )
    con.execute(
        """create table mart_customer_growth as
        with iv as (select unnest(['day', 'week', 'month']) as "interval"),
        n as (select "interval", date_trunc("interval", signup_date)::DATE as period_start, count(*) as new_customers
              from mart_customer_profile, iv group by all),
        a as (select "interval", date_trunc("interval", activity_date)::DATE as period_start,
                     count(distinct customer_id) as active_customers
              from mart_customer_activity_daily, iv group by all),
        s as (select * from n full join a using ("interval", period_start))
        select "interval", period_start, coalesce(new_customers, 0)::BIGINT as new_customers,
               sum(coalesce(new_customers, 0)) over (partition by "interval" order by period_start)::BIGINT
                   as cumulative_customers,
               null::DOUBLE as growth_rate, coalesce(active_customers, 0)::BIGINT as active_customers,
               true as is_complete
        from s"""
    )
    con.execute(
        """create table mart_customer_activity as
        with iv as (select unnest(['day', 'week', 'month']) as "interval")
        select "interval", date_trunc("interval", activity_date)::DATE as period_start, activity_type,
               sum(events)::BIGINT as events, count(distinct customer_id)::BIGINT as active_customers,
               true as is_complete
        from mart_customer_activity_daily, iv group by all"""
    )
    con.execute(
        """create table mart_retention_monthly as
        with e as (select distinct date_trunc('month', activity_date)::DATE as month, customer_id
                   from mart_customer_activity_daily
                   where activity_type in ('booking_created', 'payment_made')),
        c as (select e.month, count(distinct e.customer_id) as engaged_customers,
                     count(distinct n.customer_id) as retained_customers
              from e left join e n on n.customer_id = e.customer_id and n.month = e.month + interval 1 month
              where e.month < DATE '2024-12-01'
              group by e.month)
        select month, engaged_customers::BIGINT as engaged_customers,
               retained_customers::BIGINT as retained_customers,
               retained_customers / engaged_customers as retention_rate,
               1 - retained_customers / engaged_customers as churn_rate
        from c"""
    )
    con.execute(
        """create table mart_customer_demographics as
        select 'pet_species' as dimension, s as segment, null::VARCHAR as currency,
               count(*)::BIGINT as customers, null::DOUBLE as share_of_customers,
               null::BIGINT as active_customers_30d, null::BIGINT as bookings,
               null::DECIMAL(18, 2) as net_revenue
        from (select unnest(pet_species) as s from mart_customer_profile) group by s
        union all
        select 'gender', gender, null, count(*), null, null, null, null from mart_customer_profile group by gender"""
    )
    con.execute(
        """create table _publication (published_at TIMESTAMPTZ, high_water_mark TIMESTAMPTZ,
           run_id VARCHAR, mart VARCHAR, row_count BIGINT)"""
    )
    for mart in (
        "mart_customer_activity_daily",
        "mart_customer_profile",
        "mart_customer_growth",
        "mart_customer_activity",
        "mart_retention_monthly",
        "mart_customer_demographics",
    ):
        con.execute(
            "insert into _publication select now(), ?, 'bench', ?, count(*) from " + mart,
            [hwm, mart],
        )
    con.execute("checkpoint")
    con.close()
    os.replace(tmp, path)


# The original service's queries as live SQL (restricted to customers, like the marts).
LIVE_SQL = {
    "customer-growth": (
        """select date_trunc('month', created_at)::date as date, count(id) as count
           from users where role = 'customer' and created_at >= %s and created_at < %s::date + 1
           group by 1 order by 1""",
        (START, END),
    ),
    "customer-activity": (
        """select date_trunc('week', a."timestamp")::date as date, a.type::text as activity_type,
                  count(a.id) as count
           from activities a join users u on u.id = a.user_id and u.role = 'customer'
           where a."timestamp" >= date_trunc('week', %s::timestamptz) and a."timestamp" < %s::date + 1
           group by 1, 2 order by 1, 2""",
        (START, END),
    ),
    "customer-demographics": (
        """select a.user_id::text, count(a.id) as activity_count
           from activities a join users u on u.id = a.user_id and u.role = 'customer'
           group by a.user_id order by activity_count desc, a.user_id::text limit 10""",
        (),
    ),
    "customer-retention": (
        """with monthly_active_users as (
             select a.user_id, date_trunc('month', a."timestamp") as month
             from activities a join users u on u.id = a.user_id and u.role = 'customer'
             where a.type in ('booking_created', 'payment_made') group by 1, 2),
           retention_data as (
             select cur.month, count(distinct cur.user_id) as total_users,
                    count(distinct nxt.user_id) as retained_users
             from monthly_active_users cur
             left join monthly_active_users nxt
               on cur.user_id = nxt.user_id and nxt.month = cur.month + interval '1 month'
             group by cur.month)
           select month::date, total_users, retained_users,
                  round(retained_users::numeric / total_users * 100, 2) as retention_rate
           from retention_data where month < date '2024-12-01' order by month desc limit 12""",
        (),
    ),
    "v2/active-customers?gender=female": (
        """select date_trunc('month', a."timestamp")::date as period_start,
                  count(distinct a.user_id) as active_customers
           from activities a join users u on u.id = a.user_id and u.role = 'customer'
           where u.gender = 'female' and a."timestamp" >= %s and a."timestamp" < %s::date + 1
           group by 1 order by 1""",
        (START, END),
    ),
}
ENDPOINTS = {
    "customer-growth": f"/analytics/customer-growth?startDate={START}&endDate={END}&interval=month",
    "customer-activity": f"/analytics/customer-activity?startDate={START}&endDate={END}&interval=week",
    "customer-demographics": "/analytics/customer-demographics",
    "customer-retention": "/analytics/customer-retention",
    "v2/active-customers?gender=female": f"/v2/active-customers?interval=month&start={START}&end={END}&gender=female",
}


def same_answer(name: str, api: object, live: list[tuple]) -> bool:
    """Does the API's answer equal the live SQL's?"""
    if name == "customer-growth":
        return [(r["date"], r["count"]) for r in api] == [(d.isoformat(), c) for d, c in live]
    if name == "customer-activity":
        return [(r["date"], r["activity_type"], r["count"]) for r in api] == [
            (d.isoformat(), t, c) for d, t, c in live
        ]
    if name == "customer-demographics":
        return [(r["userId"], r["activity_count"]) for r in api["topActiveUsers"]] == list(live)
    if name == "customer-retention":
        return [
            (r["month"], r["total_users"], r["retained_users"], r["retention_rate"])
            for r in api["retentionByMonth"]
        ] == [(m.isoformat(), t, k, float(p)) for m, t, k, p in live]
    return [(r["period_start"], r["active_customers"]) for r in api["data"]] == [
        (d.isoformat(), c) for d, c in live
    ]


async def load(base: str, path: str, headers: dict, requests: int, concurrency: int) -> tuple:
    """Closed-loop load: ``concurrency`` keep-alive connections, each sending the next request
    as soon as the previous answer is in. A minimal HTTP/1.1 client on asyncio streams keeps
    the load generator's own cost low (httpx's async client alone tops out near 100 req/s on
    a busy 2-core machine, which would measure the client, not the API)."""
    host, port = base.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{head}\r\n".encode()
    latencies: list[float] = []
    errors = 0
    remaining = requests

    async def worker() -> None:
        nonlocal errors, remaining
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                writer.write(raw)
                header = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in header.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                errors += not header.startswith(b"HTTP/1.1 200")
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, len(latencies) / wall, errors


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_api", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args(argv)
    activities = int(os.environ.get("PETPRO_BENCH_API_ACTIVITIES", "1000000"))

    import httpx
    import psycopg

    from petpro.settings import get_settings
    from sourcedb.schema import create_schema

    home = Path(tempfile.mkdtemp(prefix="petpro-bench-api-"))
    server = None
    api_proc = None
    try:
        url = os.environ.get("PETPRO_BENCH_SOURCE_URL")
        if not url:
            from sourcedb.server import EmbeddedServer

            settings = get_settings(home=home, source_port=_free_port(), source_database="bench")
            server = EmbeddedServer(settings)
            url = server.start()
        with psycopg.connect(url) as conn:
            create_schema(conn)
        t0 = time.perf_counter()
        generate(url, activities)
        print(f"source: {activities:,} activities generated in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        published = home / "published" / "warehouse.duckdb"
        build_publication(url, published)
        print(f"publication built in {time.perf_counter() - t0:.1f} s")

        secret = "bench-secret-" + "0" * 32
        env = {**os.environ, "PETPRO_HOME": str(home), "PETPRO_JWT_SECRET": secret}
        port = _free_port()
        api_proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or api_proc.poll() is not None:
                raise SystemExit("the API did not start")
            time.sleep(0.2)
        from serving.auth import mint_token

        token = mint_token(get_settings(home=home, jwt_secret=secret), role="admin", sub="bench")
        headers = {"Authorization": f"Bearer {token}"}

        from rich.console import Console
        from rich.table import Table

        table = Table(
            title=f"API vs live SQL — {activities:,} activities, {args.concurrency} clients, "
            f"{args.requests} requests per endpoint"
        )
        for col in (
            "endpoint",
            "cold ms",
            "1 client ms",
            "p50 ms",
            "p99 ms",
            "req/s",
            "errors",
            "live SQL ms",
            "speed-up",
            "same answer",
        ):
            table.add_column(col, justify="right" if col != "endpoint" else "left")
        with psycopg.connect(url) as conn:
            conn.execute("set timezone = 'UTC'")
            for name, path in ENDPOINTS.items():
                # First request per worker is computed in DuckDB ("cold"); repeats of the same
                # request hit the per-publication response cache.
                t0 = time.perf_counter()
                api_answer = httpx.get(base + path, headers=headers, timeout=60).json()
                cold = time.perf_counter() - t0
                asyncio.run(load(base, path, headers, 50, 10))  # warm-up
                single, _, _, _ = asyncio.run(load(base, path, headers, 200, 1))
                p50, p99, rps, errors = asyncio.run(
                    load(base, path, headers, args.requests, args.concurrency)
                )
                sql, params = LIVE_SQL[name]
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    live = conn.execute(sql, params).fetchall()
                    times.append(time.perf_counter() - t0)
                live_s = min(times)
                table.add_row(
                    name,
                    f"{cold * 1000:.1f}",
                    f"{single * 1000:.2f}",
                    f"{p50 * 1000:.1f}",
                    f"{p99 * 1000:.1f}",
                    f"{rps:,.0f}",
                    str(errors),
                    f"{live_s * 1000:,.0f}",
                    f"{live_s / single:,.0f}×",
                    "yes" if same_answer(name, api_answer, live) else "NO",
                )
        Console().print(table)
        print(
            "cold = first request (computed in DuckDB, then cached per publication); 1 client = "
            "median latency of one sequential client; p50/p99/req/s = under --concurrency clients "
            "(queueing included); live SQL = best of 3 sequential runs on PostgreSQL; speed-up = "
            "live SQL / 1-client latency (both sequential)."
        )
    finally:
        if api_proc is not None:
            api_proc.terminate()
            api_proc.wait(timeout=30)
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
