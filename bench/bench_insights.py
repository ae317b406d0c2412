"""Benchmark of the insights: detection quality on incidents, and the cost of the publish step.

``python -m bench insights`` (or ``python -m bench.bench_insights [evaluate|cost]``):

* **evaluate** — seeds a history in an embedded PostgreSQL (``PETPRO_BENCH_INSIGHTS_CUSTOMERS``,
  default 3,000 customers over ``PETPRO_BENCH_INSIGHTS_SEED_DAYS``, default 150 days), then
  simulates ``PETPRO_BENCH_INSIGHTS_DAYS`` more days (default 200) with the simulator's
  incidents injected every ``PETPRO_BENCH_INSIGHTS_EVERY`` days (default 9; kinds in turn),
  ingests and builds the marts for real, and runs the detector and the simple alternative
  (z-score against the last 28 days, |z| >= 3) on ``mart_metric_daily``. It prints recall
  (incidents found on their day in the metric they break, with the weakest incident's
  |score|: how far above the threshold the hardest one was) and false alarms per metric per
  90 normal days (simulated days without an incident and not the day right after one; the
  first 28 simulated days are left out as the seed/simulator hand-over).
* **cost** — the publish step (``derive_insight_marts``) on a KPI series the size of the
  20M-activity benchmark history: ``PETPRO_BENCH_INSIGHTS_COST_DAYS`` (default 540) days x
  14 metrics x 4 currencies, best of 3.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np

from insights.anomalies import Z_THRESHOLD, detect, detect_zscore
from insights.marts import derive_insight_marts
from insights.series import METRIC_LABELS, read_metric_daily, split_series

SYMPTOM = {
    "payment_outage": "failed_payments",
    "signup_spike": "new_customers",
    "booking_drop": "bookings_created",
}
KINDS = ("payment_outage", "signup_spike", "booking_drop")
HANDOVER_DAYS = 28


def _env(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_history(home: Path) -> tuple[Path, dict[date, str], list[date]]:
    """Seed + simulate with incidents, ingest, dbt build; the build DB, incidents, sim days."""
    import psycopg

    from ingestion.run import run_ingestion
    from petpro.settings import get_settings
    from sourcedb.schema import create_schema
    from sourcedb.seed import seed_source
    from sourcedb.server import EmbeddedServer
    from sourcedb.simulate import simulate_day
    from warehouse.dbt import run_dbt

    customers = _env("PETPRO_BENCH_INSIGHTS_CUSTOMERS", 3_000)
    seed_days = _env("PETPRO_BENCH_INSIGHTS_SEED_DAYS", 150)
    sim_days = _env("PETPRO_BENCH_INSIGHTS_DAYS", 200)
    every = _env("PETPRO_BENCH_INSIGHTS_EVERY", 9)
    today = date.today()
    end = today - timedelta(days=sim_days + 2)
    pg = get_settings(home=home / "pg-home", source_port=_free_port(), source_database="postgres")
    server = EmbeddedServer(pg)
    server.start()
    try:
        with psycopg.connect(server.admin_url(), autocommit=True) as conn:
            conn.execute("create database bench_insights")
        info = psycopg.conninfo.conninfo_to_dict(server.admin_url())
        info["dbname"] = "bench_insights"
        url = psycopg.conninfo.make_conninfo(**info)
        with psycopg.connect(url) as conn:
            create_schema(conn)
        started = time.perf_counter()
        seed_source(url, customers=customers, days=seed_days, end_date=end, seed=11)
        incidents: dict[date, str] = {}
        simulated = []
        for k in range(1, sim_days + 1):
            day = end + timedelta(days=k)
            kind = (
                KINDS[(k // every) % len(KINDS)] if k > HANDOVER_DAYS and k % every == 0 else None
            )
            if kind and k < sim_days:  # the last simulated day is incomplete: no incident there
                incidents[day] = kind
            simulate_day(url, day, seed=7, incident=incidents.get(day))
            simulated.append(day)
        print(
            f"history: {customers:,} customers, {seed_days} seeded + {sim_days} simulated days, "
            f"{len(incidents)} incidents ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        settings = get_settings(home=home / "petpro", source_url=url, pii_key="bench")
        started = time.perf_counter()
        run_ingestion(settings, full=True)
        run_dbt(settings, ["build"], capture=True)
        print(f"ingest + dbt build: {time.perf_counter() - started:.0f} s", flush=True)
        return settings.build_db, incidents, simulated[:-1]
    finally:
        server.stop()


def evaluate(build_db: Path, incidents: dict[date, str], simulated: list[date]) -> None:
    with duckdb.connect(str(build_db), read_only=True) as con:
        frame = read_metric_daily(con)
    after = {d + timedelta(days=1) for d in incidents}
    normal = [d for d in simulated[HANDOVER_DAYS:] if d not in incidents and d not in after]
    seeded = sorted({d.item() for d in frame["metric_date"].to_numpy().astype("datetime64[D]")})
    seeded = [d for d in seeded if d < simulated[0]][28:]  # after the detector's warm-up
    others = {
        "seeded days (after a 28-day warm-up)": seeded,
        "hand-over days (first 28 simulated)": simulated[:HANDOVER_DAYS],
        "days right after an incident": sorted(after & set(simulated)),
    }
    methods = {
        f"weekday-robust baseline (|score| >= {Z_THRESHOLD:g}, ours)": detect,
        "z-score of the last 28 days (|z| >= 3)": detect_zscore,
    }
    for title, method in methods.items():
        found: dict[str, list[bool]] = defaultdict(list)
        margin: dict[str, list[float]] = defaultdict(list)  # |score| of each incident day
        false: dict[str, int] = {}
        extra: dict[str, dict[str, int]] = {label: {} for label in others}
        for series in split_series(frame):
            result = method(series)
            days = [d.item() for d in series.dates]
            at = {day: i for i, day in enumerate(days)}
            flagged = {day for day, hit in zip(days, result.is_anomaly, strict=True) if hit}
            name = series.metric + (f" {series.currency}" if series.currency else "")
            false[name] = sum(1 for d in normal if d in flagged)
            for label, days in others.items():
                extra[label][name] = sum(1 for d in days if d in flagged)
            for day, kind in incidents.items():
                if series.metric == SYMPTOM[kind]:
                    found[kind].append(day in flagged)
                    if day in at:
                        margin[kind].append(abs(float(np.nan_to_num(result.score[at[day]]))))
        print(f"\n{title}")
        for kind in KINDS:
            hits = found[kind]
            weakest = min(margin[kind], default=float("nan"))
            print(
                f"  recall {kind:15} ({SYMPTOM[kind]}): {sum(hits)}/{len(hits)}"
                f"  (weakest |score| {weakest:.1f})"
            )
        print(f"  false alarms per 90 normal days ({len(normal)} normal simulated days):")
        order = {m: i for i, m in enumerate(METRIC_LABELS)}
        for name in sorted(false, key=lambda n: (order.get(n.split()[0], 99), n)):
            print(f"    {name:28} {false[name] * 90 / max(len(normal), 1):5.2f}  ({false[name]})")
        worst = max(false.values()) * 90 / max(len(normal), 1)
        print(f"  worst metric: {worst:.2f} per 90 normal days")
        for label, days in others.items():
            print(
                f"  also: {sum(extra[label].values())} alarms over all metrics on {len(days)} "
                f"{label} ({', '.join(f'{k} {v}' for k, v in sorted(extra[label].items()) if v)})"
            )


def synthetic_metric_daily(con: duckdb.DuckDBPyConnection, days: int) -> int:
    """A mart_metric_daily of ``days`` days: 11 non-money metrics + 3 money x 4 currencies."""
    rng = np.random.default_rng(1)
    start = date(2024, 1, 1)
    rows = []
    kinds = {"active_customers": "daily_distinct", "cancellation_rate": "ratio",
             "payment_failure_rate": "ratio", "average_rating": "average"}  # fmt: skip
    for metric in METRIC_LABELS:
        money = metric in ("gross_revenue", "refunds", "net_revenue")
        for currency in ("EUR", "USD", "GBP", "CAD") if money else (None,):
            level = 500 + 1000 * rng.random()
            for k in range(days):
                n = float(rng.poisson(level * (1 + k / days) * (1.3 if k % 7 >= 5 else 1.0)))
                kind = "money" if money else kinds.get(metric, "count")
                if kind in ("ratio", "average"):
                    den = n
                    num = float(rng.binomial(int(den), 0.1)) if kind == "ratio" else den * 4.2
                    value = num / den if den else None
                elif kind == "money":
                    num, den, value = n * 37.5, n, n * 37.5
                else:
                    num, den, value = n, None, n
                rows.append((start + timedelta(days=k), metric, kind, currency, value, num, den))
    con.execute(
        "create table mart_metric_daily (metric_date date, metric varchar, metric_kind varchar, "
        "currency varchar, value double, numerator double, denominator double)"
    )
    con.executemany("insert into mart_metric_daily values (?, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def cost() -> None:
    days = _env("PETPRO_BENCH_INSIGHTS_COST_DAYS", 540)
    con = duckdb.connect()
    rows = synthetic_metric_daily(con, days)
    timings, out = [], {}
    for _ in range(3):
        started = time.perf_counter()
        out = derive_insight_marts(con)
        timings.append(time.perf_counter() - started)
    print(
        f"derive_insight_marts on {rows:,} KPI rows ({days} days): best {min(timings):.2f} s, "
        f"runs {', '.join(f'{t:.2f}' for t in timings)} s; "
        + ", ".join(f"{k} {v.num_rows:,} rows" for k, v in out.items())
    )


def main(argv: list[str]) -> None:
    what = argv or ["cost", "evaluate"]
    if "cost" in what:
        cost()
    if "evaluate" in what:
        home = Path(
            os.environ.get("PETPRO_BENCH_INSIGHTS_HOME")
            or tempfile.mkdtemp(prefix="bench-insights-")
        )
        try:
            build_db, incidents, simulated = build_history(home)
            evaluate(build_db, incidents, simulated)
        finally:
            if "PETPRO_BENCH_INSIGHTS_HOME" not in os.environ:
                shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
