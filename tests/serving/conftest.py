"""Fixtures of the serving tests: a hand-made publication and export, settings, tokens, a server.

The publication holds every published mart, the customer-level marts included, filled
with six hand-written customers (C1..C6) whose activity is listed below; the real publisher
puts it in place. The expectations in the tests were computed by hand from these rows (see
the comments there), not by the code under test. The small marts that are not derived
(retention, service usage, demographics, …) are written out literally; growth, activity and
active-user marts are aggregated from the hand rows in the fixture with plain SQL so that
all intervals exist.
"""

from __future__ import annotations

import csv
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from insights.marts import derive_insight_marts
from petpro.settings import Settings, get_settings
from predictions.recommend_score import BY_CITY_SCHEMA, RECOMMENDATIONS_SCHEMA
from warehouse.publish import publish

HWM = "2024-04-10 12:00:00+00"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789abcdef"
ANALYST_KEY = "analyst-key-abc"
VIEWER_KEY = "viewer-key-xyz"

# Customer UUIDs; C4 < C6 so the activity-count tie in topActiveUsers orders C4 first.
C1 = "00000000-0000-4000-8000-000000000001"
C2 = "00000000-0000-4000-8000-000000000002"
C3 = "00000000-0000-4000-8000-000000000003"
C4 = "00000000-0000-4000-8000-000000000004"
C5 = "00000000-0000-4000-8000-000000000005"
C6 = "00000000-0000-4000-8000-000000000006"

# customer, signup timestamp, age_group, gender, country, city, device, pets, bookings
PROFILES = [
    (C1, "2024-01-05 09:00:00+00", "25-34", "female", "DE", "Berlin", "mobile", ["dog"], 3),
    (C2, "2024-01-20 10:00:00+00", "35-44", "male", "DE", "Munich", "desktop", ["cat", "dog"], 1),
    (C3, "2024-02-03 11:00:00+00", "18-24", "female", "FR", "Paris", "mobile", [], 2),
    (C4, "2024-02-15 12:00:00+00", "25-34", "other", "FR", "Paris", "tablet", ["cat"], 0),
    (C5, "2024-03-01 13:00:00+00", "unknown", "unknown", "US", "Austin", "desktop", ["bird"], 5),
    (C6, "2024-03-28 14:00:00+00", "65+", "female", "DE", "Berlin", "mobile", ["dog"], 0),
]

# customer, activity_date, activity_type, events
DAILY = [
    (C1, "2024-01-05", "account_created", 1),
    (C1, "2024-01-05", "login", 2),
    (C1, "2024-01-10", "booking_created", 1),
    (C1, "2024-02-02", "booking_created", 1),
    (C1, "2024-02-02", "payment_made", 1),
    (C1, "2024-03-15", "login", 1),
    (C1, "2024-04-02", "booking_created", 1),
    (C2, "2024-01-20", "account_created", 1),
    (C2, "2024-01-21", "login", 3),
    (C2, "2024-02-10", "booking_created", 1),
    (C2, "2024-03-05", "payment_made", 1),
    (C3, "2024-02-03", "account_created", 1),
    (C3, "2024-02-04", "booking_created", 2),
    (C3, "2024-03-04", "login", 1),
    (C4, "2024-02-15", "account_created", 1),
    (C4, "2024-02-16", "login", 1),
    (C5, "2024-03-01", "account_created", 1),
    (C5, "2024-03-02", "booking_created", 3),
    (C5, "2024-03-03", "payment_made", 2),
    (C5, "2024-04-05", "booking_created", 2),
    (C5, "2024-04-09", "login", 4),
    (C6, "2024-03-28", "account_created", 1),
    (C6, "2024-04-01", "login", 1),
]

# month, category, currency, bookings, completed, cancelled, no_show, unique, gross, refunds
SERVICE_USAGE = [
    ("2024-01-01", "grooming", "USD", 2, 2, 0, 0, 2, "100.00", "0.00"),
    ("2024-02-01", "grooming", "USD", 1, 1, 0, 0, 1, "50.00", "0.00"),
    ("2024-02-01", "veterinary", "EUR", 2, 1, 1, 0, 2, "200.50", "0.00"),
    ("2024-03-01", "veterinary", "EUR", 3, 2, 0, 1, 2, "300.25", "25.00"),
    ("2024-03-01", "walking", "USD", 1, 1, 0, 0, 1, "20.00", "0.00"),
    ("2024-04-01", "grooming", "USD", 1, 0, 0, 0, 1, "40.00", "0.00"),
]

# dimension, segment, currency, customers, active_30d, bookings, net_revenue
DEMOGRAPHICS = [
    ("pet_species", "dog", "USD", 3, 2, 3, "150.00"),
    ("pet_species", "dog", "EUR", 3, 2, 1, "200.50"),
    ("pet_species", "cat", "EUR", 2, 0, 1, "200.50"),
    ("pet_species", "bird", "EUR", 1, 1, 5, "275.25"),
    ("pet_species", "none", "USD", 1, 0, 2, "20.00"),
    ("gender", "female", "USD", 3, 2, 5, "170.00"),
    ("gender", "male", "EUR", 1, 0, 1, "200.50"),
    ("gender", "other", None, 1, 0, None, None),
    ("gender", "unknown", "EUR", 1, 1, 5, "275.25"),
    ("country", "DE", "USD", 3, 2, 4, "150.00"),
    ("country", "FR", "USD", 2, 0, 2, "20.00"),
    ("country", "US", "EUR", 1, 1, 5, "275.25"),
    ("age_group", "25-34", "USD", 2, 1, 3, "150.00"),
    ("city", "Berlin", "USD", 2, 2, 3, "150.00"),
    ("device_type", "mobile", "USD", 3, 2, 5, "170.00"),
]


def _prediction_marts(con: duckdb.DuckDBPyConnection) -> None:
    """The customer-prediction marts (issue 15) for C1..C3, hand-written: RFM, churn risk,
    lifetime value, model evaluation and the recent activity log."""
    con.execute(
        """create table mart_customer_rfm as select * from (values
           (?, DATE '2024-04-10', 8, 2::BIGINT, 'EUR', 80.00::DECIMAL(18,2), 5, 4, 4, '544', 'champions'),
           (?, DATE '2024-04-10', 36, 1::BIGINT, 'EUR', 20.00::DECIMAL(18,2), 2, 1, 1, '211', 'hibernating'),
           (?, DATE '2024-04-10', NULL, 0::BIGINT, NULL, NULL, NULL, NULL, NULL, NULL, 'no_purchase'))
           t(customer_id, as_of_date, recency_days, frequency, currency, monetary, r_score, f_score,
             m_score, rfm_cell, segment)""",
        [C1, C2, C3],
    )
    con.execute(
        """create table mart_customer_churn_risk as select * from (values
           (?, 0.2, 'low', DATE '2024-04-10', TIMESTAMPTZ '2024-04-11 02:00:00+00', 'churn_gbm', 'v1'),
           (?, 0.7, 'high', DATE '2024-04-10', TIMESTAMPTZ '2024-04-11 02:00:00+00', 'churn_gbm', 'v1'))
           t(customer_id, churn_probability, risk_band, as_of_date, scored_at, model, model_version)""",
        [C1, C2],
    )
    con.execute(
        """create table mart_customer_clv as select * from (values
           (?, 'EUR', 2::BIGINT, DATE '2024-02-02', DATE '2024-04-02', 0.9, 0.8, 2.5, 40.0, 32.0,
            100.0, DATE '2024-04-10', TIMESTAMPTZ '2024-04-11 02:00:00+00', 'clv_bgnbd', 'v1'))
           t(customer_id, currency, transactions, first_transaction_date, last_transaction_date,
             probability_alive, expected_transactions_90d, expected_transactions_365d,
             expected_average_value, expected_value_90d, expected_value_365d, as_of_date,
             scored_at, model, model_version)""",
        [C1],
    )
    con.execute(
        """create table mart_model_evaluation as select * from (values
           ('churn_gbm', 'v1', 'model', NULL, TIMESTAMPTZ '2024-04-07 04:00:00+00',
            DATE '2024-02-09', DATE '2024-02-10', DATE '2024-04-09', 'roc_auc', 0.8, 4::BIGINT))
           t(model, model_version, role, compared_with, trained_at, train_end, holdout_start,
             holdout_end, metric, value, n)"""
    )
    con.execute(
        """create table mart_customer_activity_log as select * from (values
           (?, 'a1', 'booking_created', TIMESTAMPTZ '2024-04-02 10:00:00+00', DATE '2024-04-02',
            'Booking created', 'mobile', '{"bookingId":"b1","serviceType":"grooming"}'),
           (?, 'a2', 'login', TIMESTAMPTZ '2024-03-15 09:00:00+00', DATE '2024-03-15', 'Login',
            'mobile', '{}'))
           t(customer_id, activity_id, activity_type, activity_at, activity_date, description,
             device_type, metadata)""",
        [C1, C1],
    )


def build_publication(
    settings: Settings,
    run_id: str = "run-1",
    extra_daily: list[tuple[str, str, str, int]] | None = None,
) -> Path:
    """Write every mart into ``build.duckdb`` and publish it with the real publisher."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    settings.build_db.unlink(missing_ok=True)
    con = duckdb.connect(str(settings.build_db))
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(
            """create table mart_customer_profile (customer_id VARCHAR, signup_at TIMESTAMPTZ,
               signup_date DATE, age_group VARCHAR, gender VARCHAR, country VARCHAR, city VARCHAR,
               device_type VARCHAR, pet_species VARCHAR[], bookings BIGINT)"""
        )
        for c, ts, age, gender, country, city, device, pets, bookings in PROFILES:
            con.execute(
                "insert into mart_customer_profile values (?, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ::DATE, ?, ?, ?, ?, ?, ?, ?)",
                [c, ts, ts, age, gender, country, city, device, pets, bookings],
            )
        con.execute(
            """create table mart_customer_activity_daily (customer_id VARCHAR, activity_date DATE,
               activity_type VARCHAR, events BIGINT)"""
        )
        con.executemany(
            "insert into mart_customer_activity_daily values (?, ?, ?, ?)",
            [list(r) for r in DAILY + (extra_daily or [])],
        )
        con.execute(
            "create table mart_customer_segments (customer_id VARCHAR, dimension VARCHAR, segment VARCHAR)"
        )
        for c, _ts, age, gender, country, city, device, pets, _b in PROFILES:
            rows = [("age_group", age), ("gender", gender), ("country", country), ("city", city)]
            rows += [("device_type", device)] + [("pet_species", p) for p in pets or ["none"]]
            con.executemany(
                "insert into mart_customer_segments values (?, ?, ?)", [[c, d, v] for d, v in rows]
            )
        # Active in the 30 days ending at the high-water date 2024-04-10: 03-12 .. 04-10.
        con.execute(
            """create table mart_customer_activity_summary as
               select p.customer_id, coalesce(sum(d.events), 0)::BIGINT as events,
                      min(d.activity_date) as first_activity_date,
                      max(d.activity_date) as last_activity_date,
                      coalesce(bool_or(d.activity_date >= DATE '2024-03-12'), false) as is_active_30d
               from mart_customer_profile p
               left join mart_customer_activity_daily d using (customer_id)
               group by p.customer_id"""
        )
        # Engaged (booking_created / payment_made) in January or February, the months whose next
        # month is complete: Jan C1 (again in Feb); Feb C1 (not in Mar), C2 (payment 03-05), C3.
        con.execute(
            """create table mart_customer_engaged_months as select * from (values
               (?, DATE '2024-01-01', true), (?, DATE '2024-02-01', false),
               (?, DATE '2024-02-01', true), (?, DATE '2024-02-01', false))
               t(customer_id, month, is_retained)""",
            [C1, C1, C2, C3],
        )
        _prediction_marts(con)
        hwm_date = "DATE '2024-04-10'"
        # Derived marts: all intervals, periods from the first signup to the high-water mark.
        con.execute(
            f"""create table mart_customer_growth as
            with iv as (select unnest(['day', 'week', 'month']) as "interval"),
            periods as (
                select iv."interval", p::DATE as period_start
                from iv, generate_series(DATE '2024-01-01', {hwm_date}, interval 1 day) as t(p)
                where date_trunc(iv."interval", p)::DATE = p::DATE
                  and p >= date_trunc(iv."interval", DATE '2024-01-05')),
            newc as (
                select iv."interval", date_trunc(iv."interval", signup_date)::DATE as period_start, count(*) as n
                from mart_customer_profile, iv group by all),
            act as (
                select iv."interval", date_trunc(iv."interval", activity_date)::DATE as period_start,
                       count(distinct customer_id) as a
                from mart_customer_activity_daily, iv group by all),
            s as (
                select p."interval", p.period_start, coalesce(newc.n, 0) as new_customers,
                       sum(coalesce(newc.n, 0)) over (partition by p."interval" order by p.period_start) as cumulative_customers,
                       lag(coalesce(newc.n, 0)) over (partition by p."interval" order by p.period_start) as prev,
                       coalesce(act.a, 0) as active_customers,
                       (p.period_start + ('1 ' || p."interval")::INTERVAL) <= TIMESTAMPTZ '{HWM}' as is_complete
                from periods p left join newc using ("interval", period_start)
                left join act using ("interval", period_start))
            select "interval", period_start, new_customers::BIGINT as new_customers,
                   cumulative_customers::BIGINT as cumulative_customers,
                   case when prev > 0 then (new_customers - prev) / prev end as growth_rate,
                   active_customers::BIGINT as active_customers, is_complete
            from s"""
        )
        con.execute(
            f"""create table mart_customer_activity as
            with iv as (select unnest(['day', 'week', 'month']) as "interval")
            select iv."interval", date_trunc(iv."interval", activity_date)::DATE as period_start,
                   activity_type, sum(events)::BIGINT as events,
                   count(distinct customer_id)::BIGINT as active_customers,
                   (date_trunc(iv."interval", activity_date) + ('1 ' || iv."interval")::INTERVAL)
                       <= TIMESTAMPTZ '{HWM}' as is_complete
            from mart_customer_activity_daily, iv group by all"""
        )
        con.execute(
            f"""create table mart_active_users as
            with days as (select d::DATE as activity_date from generate_series(DATE '2024-01-05', {hwm_date}, interval 1 day) t(d)),
            w as (
                select days.activity_date,
                    count(distinct c.customer_id) filter (where c.activity_date = days.activity_date) as dau,
                    count(distinct c.customer_id) filter (where c.activity_date > days.activity_date - 7) as wau,
                    count(distinct c.customer_id) as mau
                from days left join mart_customer_activity_daily c
                  on c.activity_date between days.activity_date - 29 and days.activity_date
                group by all)
            select activity_date, dau::BIGINT as dau, wau::BIGINT as wau, mau::BIGINT as mau,
                   case when mau > 0 then dau / mau end as stickiness from w"""
        )
        # Literal marts.
        # churn_rate = 1 - retention_rate (docs/metrics.md), as a DOUBLE computes it.
        con.execute(
            """create table mart_retention_monthly (month DATE, engaged_customers BIGINT,
               retained_customers BIGINT, retention_rate DOUBLE, churn_rate DOUBLE)"""
        )
        con.execute(
            """insert into mart_retention_monthly values
               ('2024-01-01', 1, 1, 1.0, 0.0), ('2024-02-01', 3, 1, 1.0 / 3, 1 - 1.0 / 3)"""
        )
        con.execute(
            """create table mart_service_usage (month DATE, service_category VARCHAR, currency VARCHAR,
               bookings BIGINT, completed BIGINT, cancelled BIGINT, no_show BIGINT,
               completion_rate DOUBLE, cancellation_rate DOUBLE, unique_customers BIGINT,
               gross_revenue DECIMAL(18, 2), refunds DECIMAL(18, 2), net_revenue DECIMAL(18, 2),
               avg_booking_value DECIMAL(18, 2), arpu DECIMAL(18, 2))"""
        )
        for m, cat, cur, b, comp, canc, ns, uniq, gross, ref in SERVICE_USAGE:
            con.execute(
                """insert into mart_service_usage values (?, ?, ?, ?, ?, ?, ?, ?::DOUBLE / ?, ?::DOUBLE / ?, ?,
                   ?::DECIMAL(18,2), ?::DECIMAL(18,2), ?::DECIMAL(18,2) - ?::DECIMAL(18,2), null, null)""",
                [m, cat, cur, b, comp, canc, ns, comp, b, canc, b, uniq, gross, ref, gross, ref],
            )
        con.execute(
            """create table mart_customer_demographics (dimension VARCHAR, segment VARCHAR,
               currency VARCHAR, customers BIGINT, share_of_customers DOUBLE,
               active_customers_30d BIGINT, bookings BIGINT, net_revenue DECIMAL(18, 2))"""
        )
        for dim, seg, cur, n, act, b, rev in DEMOGRAPHICS:
            con.execute(
                "insert into mart_customer_demographics values (?, ?, ?, ?, ? / 6.0, ?, ?, ?::DECIMAL(18,2))",
                [dim, seg, cur, n, n, act, b, rev],
            )
        con.execute(
            """create table mart_customer_lifecycle as select * from (values
               ('month', DATE '2024-02-01', 'new', 2::BIGINT, true),
               ('month', DATE '2024-02-01', 'returning', 2::BIGINT, true),
               ('month', DATE '2024-03-01', 'dormant', 1::BIGINT, true))
               t("interval", period_start, status, customers, is_complete)"""
        )
        con.execute(
            """create table mart_activity_heatmap as select * from (values
               (1, 9, 5::BIGINT, 2::BIGINT), (5, 14, 3::BIGINT, 1::BIGINT))
               t(day_of_week, hour_of_day, events, active_customers)"""
        )
        con.execute(
            """create table mart_cohort_retention as select * from (values
               (DATE '2024-01-01', 0, 2::BIGINT, 1::BIGINT, 0.5, 2::BIGINT, 1.0),
               (DATE '2024-01-01', 1, 2::BIGINT, 2::BIGINT, 1.0, 2::BIGINT, 1.0),
               (DATE '2024-02-01', 0, 2::BIGINT, 1::BIGINT, 0.5, 1::BIGINT, 0.5))
               t(cohort_month, months_since_signup, cohort_size, retained_customers, retention_rate,
                 retained_on_or_after, rolling_retention_rate)"""
        )
        con.execute(
            """create table mart_nday_retention as select * from (values
               (DATE '2024-01-01', 1, 1::BIGINT, 0::BIGINT, 0.0),
               (DATE '2024-01-15', 1, 1::BIGINT, 1::BIGINT, 1.0))
               t(cohort_week, day_n, cohort_size, retained_customers, retention_rate)"""
        )
        con.execute(
            """create table mart_repeat_customers as select * from (values
               (DATE '2024-01-01', 1::BIGINT, 0::BIGINT, 0.0),
               (DATE '2024-02-01', 3::BIGINT, 1::BIGINT, 1.0 / 3))
               t(month, booking_customers, repeat_customers, repeat_rate)"""
        )
        # KPI series for the insights (hand-made, deterministic): bookings created follow a
        # fixed weekly pattern (20 a weekday, 30 on Saturday, 10 on Sunday) and collapse to 2
        # on Tuesday 2024-04-02, the one anomaly; new customers are the six signups.
        con.execute(
            """create table mart_metric_daily as
            with days as (select d::DATE as metric_date
                          from generate_series(DATE '2024-01-01', DATE '2024-04-09', interval 1 day) t(d))
            select metric_date, 'bookings_created' as metric, 'count' as metric_kind,
                   null::VARCHAR as currency, v as value, v as numerator, null::DOUBLE as denominator
            from (select metric_date,
                         case when metric_date = DATE '2024-04-02' then 2.0
                              when isodow(metric_date) = 6 then 30.0
                              when isodow(metric_date) = 7 then 10.0 else 20.0 end as v
                  from days)
            union all
            select days.metric_date, 'new_customers', 'count', null, count(p.customer_id)::DOUBLE,
                   count(p.customer_id)::DOUBLE, null
            from days left join mart_customer_profile p on p.signup_date = days.metric_date
            group by days.metric_date"""
        )
        # The recommender's dbt marts, empty: the fixture's customers booked nothing.
        con.execute(
            """create table mart_service_catalogue (service_id VARCHAR, vendor_id VARCHAR,
               service_category VARCHAR, currency VARCHAR, price DECIMAL(18, 2),
               vendor_city VARCHAR, vendor_country VARCHAR, vendor_status VARCHAR,
               is_active BOOLEAN, is_bookable BOOLEAN)"""
        )
        con.execute(
            """create table mart_customer_service_bookings (booking_id VARCHAR,
               customer_id VARCHAR, service_id VARCHAR, vendor_id VARCHAR,
               service_category VARCHAR, pet_species VARCHAR, booking_status VARCHAR,
               booked_at TIMESTAMPTZ, booked_date DATE, review_rating INTEGER)"""
        )
        con.execute("checkpoint")
    finally:
        con.close()
    hwm = datetime.fromisoformat(HWM)
    return publish(
        settings,
        run_id=run_id,
        high_water_mark=hwm,
        derive=[derive_insight_marts, _no_recommendations],
    ).version_dir


def _no_recommendations(_: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    # The recommendation marts exist in every real publication (cold start before any
    # training); empty here, so their endpoints answer 404 for unknown ids, never 503.
    return {
        "mart_service_recommendations": RECOMMENDATIONS_SCHEMA.empty_table(),
        "mart_recommended_services_by_city": BY_CITY_SCHEMA.empty_table(),
    }


def build_exports(exports_dir: Path, day: str = "2024-04-10") -> dict[str, str]:
    """A dated export folder with one report in three formats, a manifest and ``latest``."""
    folder = exports_dir / day
    folder.mkdir(parents=True, exist_ok=True)
    rows = [("2024-01-01", 2), ("2024-02-01", 2), ("2024-03-01", 2)]
    with (folder / "customer_growth.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["period_start", "new_customers"])
        writer.writerows(rows)
    con = duckdb.connect()
    con.execute(
        f"copy (select * from read_csv('{folder / 'customer_growth.csv'}')) "
        f"to '{folder / 'customer_growth.parquet'}' (format parquet)"
    )
    con.close()
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["period_start", "new_customers"])
    for r in rows:
        ws.append(list(r))
    wb.save(folder / "customer_growth.xlsx")
    (folder / "secret.txt").write_text("not listed in the manifest")
    digests: dict[str, str] = {}
    files = []
    for ext in ("csv", "parquet", "xlsx"):
        name = f"customer_growth.{ext}"
        data = (folder / name).read_bytes()
        digests[name] = hashlib.sha256(data).hexdigest()
        files.append(
            {
                "report": "customer_growth",
                "format": ext,
                "file": name,
                "sha256": digests[name],
                "bytes": len(data),
                "rows": len(rows),
            }
        )
    (folder / "manifest.json").write_text(json.dumps({"report_date": day, "files": files}))
    link = exports_dir / "latest"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(day)
    return digests


@dataclass
class Served:
    settings: Settings
    digests: dict[str, str]


def _settings_env(home: Path) -> dict[str, str]:
    keys = (
        f"etl-analyst:analyst:{hashlib.sha256(ANALYST_KEY.encode()).hexdigest()},"
        f"viewer-bot:viewer:{hashlib.sha256(VIEWER_KEY.encode()).hexdigest()}"
    )
    return {
        "PETPRO_HOME": str(home),
        "PETPRO_JWT_SECRET": JWT_SECRET,
        "PETPRO_API_KEYS": keys,
        "PETPRO_TIMEZONE": "UTC",
    }


@pytest.fixture
def serving_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings on a private home (no PostgreSQL needed) with a JWT secret and two API keys."""
    home = tmp_path / "home"
    home.mkdir()
    for name, value in _settings_env(home).items():
        monkeypatch.setenv(name, value)
    return get_settings()


@pytest.fixture(scope="module")
def module_published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Like ``published``, shared by the tests of a module that only read (e.g. fuzzing)."""
    home = tmp_path_factory.mktemp("served") / "home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _settings_env(home).items():
            mp.setenv(name, value)
        settings = get_settings()
        build_publication(settings)
        digests = build_exports(settings.exports_dir)
        yield Served(settings, digests)


@pytest.fixture
def published(serving_settings: Settings) -> Served:
    build_publication(serving_settings)
    digests = build_exports(serving_settings.exports_dir)
    return Served(serving_settings, digests)


@pytest.fixture
def client(published: Served) -> Iterator:
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(published.settings)) as c:
        yield c


@pytest.fixture
def token(serving_settings: Settings) -> Callable[..., str]:
    from serving.auth import mint_token

    def make(role: str = "admin", sub: str = "test-admin", ttl_hours: float = 1) -> str:
        return mint_token(serving_settings, role=role, sub=sub, ttl_hours=ttl_hours)

    return make


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token()}"}


@pytest.fixture
def analyst() -> dict[str, str]:
    return {"X-API-Key": ANALYST_KEY}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(published: Served) -> Iterator[str]:
    """uvicorn serving the app on a free loopback port, in a thread of this process."""
    import uvicorn

    from serving.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(published.settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def fixture_tools() -> dict[str, Callable[..., object]]:
    """The builders, for tests that make further publications."""
    return {"build_publication": build_publication, "build_exports": build_exports}


ALL_CUSTOMERS = [C1, C2, C3, C4, C5, C6]
TODAY = date(2024, 4, 10)
