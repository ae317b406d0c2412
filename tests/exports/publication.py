"""A hand-built publication for the export tests, published by the real publisher.

``build_publication`` writes every mart of the shared data contract — exact column names and
DuckDB types — with a few hand-written rows each, hostile and Unicode text included, into the
home's ``build.duckdb``, then publishes it with :func:`warehouse.publish.publish` (a new
version directory with the DuckDB file, the Parquet copies and the record, switched in through
``published/current``). The expected numbers in the tests are computed by hand from these rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from petpro.settings import Settings
from warehouse.publish import publish

HWM = datetime(2024, 3, 20, 15, 30, tzinfo=UTC)
PUBLISHED_AT = datetime(2024, 3, 20, 16, 0, tzinfo=UTC)
RUN_ID = "run-20240320-0001"
HWM_DATE = date(2024, 3, 20)

HOSTILE = [
    '=HYPERLINK("http://x")',
    "+1+1",
    "-2",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    # A formula character after leading whitespace: spreadsheets skip the whitespace.
    "\n=1+1",
    "\t+1",
    "\r-1",
    "  @SUM(A1)",
    "\n\t=cmd",
]
UNICODE = ["São Paulo", "東京", "🐶 grooming"]

# name -> (DDL column list, rows as SQL literal tuples)
MARTS: dict[str, tuple[str, list[str]]] = {
    "mart_customer_growth": (
        "interval VARCHAR, period_start DATE, new_customers BIGINT, cumulative_customers BIGINT, "
        "growth_rate DOUBLE, active_customers BIGINT, is_complete BOOLEAN",
        [
            "('month', DATE '2024-01-01', 10, 10, NULL, 8, true)",
            "('month', DATE '2024-02-01', 15, 25, 0.5, 20, true)",
            "('month', DATE '2024-03-01', 6, 31, -0.6, 18, false)",
            "('week', DATE '2024-03-18', 2, 31, -0.3333333333333333, 9, false)",
            "('day', DATE '2024-03-20', 1, 31, NULL, 5, false)",
        ],
    ),
    "mart_customer_activity": (
        "interval VARCHAR, period_start DATE, activity_type VARCHAR, events BIGINT, "
        "active_customers BIGINT, is_complete BOOLEAN",
        [
            "('month', DATE '2024-02-01', 'login', 120, 20, true)",
            "('month', DATE '2024-03-01', 'booking_created', 30, 12, false)",
            "('month', DATE '2024-03-01', 'login', 80, 18, false)",
            "('day', DATE '2024-03-20', '@SUM(A1)', 3, 2, false)",
        ],
    ),
    "mart_active_users": (
        "activity_date DATE, dau BIGINT, wau BIGINT, mau BIGINT, stickiness DOUBLE",
        [
            "(DATE '2024-02-29', 7, 12, 20, 0.35)",
            "(DATE '2024-03-18', 4, 9, 18, 0.2222222222222222)",
            "(DATE '2024-03-19', 6, 10, 18, 0.3333333333333333)",
            "(DATE '2024-03-20', 5, 11, 19, 0.2631578947368421)",
        ],
    ),
    "mart_customer_lifecycle": (
        "interval VARCHAR, period_start DATE, status VARCHAR, customers BIGINT, "
        "is_complete BOOLEAN",
        [
            "('month', DATE '2024-02-01', 'new', 12, true)",
            "('month', DATE '2024-02-01', 'returning', 6, true)",
            "('month', DATE '2024-03-01', 'dormant', 4, false)",
            "('week', DATE '2024-03-18', 'resurrecting', 1, false)",
        ],
    ),
    "mart_activity_heatmap": (
        "day_of_week INTEGER, hour_of_day INTEGER, events BIGINT, active_customers BIGINT",
        ["(1, 0, 5, 3)", "(3, 14, 22, 9)", "(7, 23, 1, 1)"],
    ),
    "mart_customer_demographics": (
        "dimension VARCHAR, segment VARCHAR, currency VARCHAR, customers BIGINT, "
        "share_of_customers DOUBLE, active_customers_30d BIGINT, bookings BIGINT, "
        "net_revenue DECIMAL(18,2)",
        [
            "('city', '=HYPERLINK(\"http://x\")', 'EUR', 3, 0.1, 2, 4, 120.50)",
            "('city', '+1+1', 'USD', 2, 0.05, 1, 1, -15.25)",
            "('city', '-2', NULL, 1, 0.025, 0, 0, NULL)",
            "('city', '@SUM(A1)', 'EUR', 1, 0.025, 1, 2, 40.00)",
            "('city', chr(9) || 'cmd', 'EUR', 1, 0.025, 0, 1, 10.00)",
            "('city', chr(13) || 'cmd', 'EUR', 1, 0.025, 1, 1, 12.00)",
            "('city', chr(10) || '=1+1', 'EUR', 1, 0.025, 0, 0, 1.00)",
            "('city', chr(9) || '+1', 'EUR', 1, 0.025, 0, 0, 2.00)",
            "('city', chr(13) || '-1', 'EUR', 1, 0.025, 0, 0, 3.00)",
            "('city', '  @SUM(A1)', 'EUR', 1, 0.025, 0, 0, 4.00)",
            "('city', chr(10) || chr(9) || '=cmd', 'EUR', 1, 0.025, 0, 0, 5.00)",
            "('city', 'São Paulo', 'BRL', 5, 0.125, 3, 6, 899.99)",
            "('city', '東京', 'JPY', 4, 0.1, 2, 3, 12000.00)",
            "('city', 'Berlin, \"Mitte\"' || chr(10) || 'Nord', 'EUR', 2, 0.05, 1, 1, 0.00)",
            "('gender', 'female', 'EUR', 20, 0.5, 12, 10, 500.00)",
            "('pet_species', '🐶 grooming', 'EUR', 7, 0.175, 4, 5, 250.00)",
        ],
    ),
    "mart_service_usage": (
        "month DATE, service_category VARCHAR, currency VARCHAR, bookings BIGINT, completed BIGINT, "
        "cancelled BIGINT, no_show BIGINT, completion_rate DOUBLE, cancellation_rate DOUBLE, "
        "unique_customers BIGINT, gross_revenue DECIMAL(18,2), refunds DECIMAL(18,2), "
        "net_revenue DECIMAL(18,2), avg_booking_value DECIMAL(18,2), arpu DECIMAL(18,2)",
        [
            "(DATE '2024-01-01', 'grooming', 'EUR', 3, 3, 0, 0, 1.0, 0.0, 3, 90.00, 0.00, "
            "90.00, 30.00, 11.25)",
            "(DATE '2024-02-01', 'grooming', 'EUR', 10, 8, 1, 1, 0.8, 0.1, 7, 400.00, 20.00, "
            "380.00, 50.00, 19.00)",
            "(DATE '2024-03-01', '🐶 grooming', 'EUR', 6, 3, 2, 1, 0.5, 0.3333333333333333, 5, "
            "300.00, 50.00, 250.00, 60.00, 13.89)",
            "(DATE '2024-03-01', 'veterinary', 'USD', 4, 2, 1, 1, 0.5, 0.25, 4, 200.00, 0.00, "
            "200.00, 100.00, 11.11)",
            "(DATE '2024-03-01', '=cmd|''/C calc''!A0', 'EUR', 2, 1, 0, 1, 0.5, 0.0, 2, 80.00, "
            "100.00, -20.00, 80.00, -1.11)",
        ],
    ),
    "mart_cohort_retention": (
        "cohort_month DATE, months_since_signup INTEGER, cohort_size BIGINT, "
        "retained_customers BIGINT, retention_rate DOUBLE, retained_on_or_after BIGINT, "
        "rolling_retention_rate DOUBLE",
        [
            "(DATE '2024-01-01', 0, 10, 6, 0.6, 8, 0.8)",
            "(DATE '2024-01-01', 1, 10, 4, 0.4, 5, 0.5)",
            "(DATE '2024-02-01', 0, 15, 9, 0.6, 9, 0.6)",
        ],
    ),
    "mart_nday_retention": (
        "cohort_week DATE, day_n INTEGER, cohort_size BIGINT, retained_customers BIGINT, "
        "retention_rate DOUBLE",
        [
            "(DATE '2024-01-01', 1, 5, 2, 0.4)",
            "(DATE '2024-01-01', 7, 5, 1, 0.2)",
            "(DATE '2024-02-05', 1, 6, 3, 0.5)",
        ],
    ),
    "mart_retention_monthly": (
        "month DATE, engaged_customers BIGINT, retained_customers BIGINT, retention_rate DOUBLE, "
        "churn_rate DOUBLE",
        [
            "(DATE '2023-12-01', 4, 2, 0.5, 0.5)",
            "(DATE '2024-01-01', 8, 5, 0.625, 0.375)",
        ],
    ),
    "mart_repeat_customers": (
        "month DATE, booking_customers BIGINT, repeat_customers BIGINT, repeat_rate DOUBLE",
        [
            "(DATE '2024-01-01', 6, 1, 0.16666666666666666)",
            "(DATE '2024-02-01', 12, 4, 0.3333333333333333)",
            "(DATE '2024-03-01', 15, 6, 0.4)",
        ],
    ),
    "mart_recommended_services_by_city": (
        "country VARCHAR, city VARCHAR, rank INTEGER, service_id VARCHAR, vendor_id VARCHAR, "
        "service_category VARCHAR, vendor_city VARCHAR, customers BIGINT, "
        "city_customers BIGINT, share DOUBLE, mean_rank DOUBLE",
        [
            "('Germany', 'Berlin', 1, 's-1', 'v-1', 'grooming', 'Berlin', 9, 12, 0.75, 1.5)",
            "('Germany', 'Berlin', 2, 's-2', 'v-2', 'walking', 'Berlin', 6, 12, 0.5, 3.0)",
            "('France', 'Paris', 1, 's-3', 'v-3', 'veterinary', 'Paris', 4, 5, 0.8, 2.25)",
        ],
    ),
    # The two customer-level marts: published for the API, never exported.
    "mart_customer_activity_daily": (
        "customer_id VARCHAR, activity_date DATE, activity_type VARCHAR, events BIGINT",
        ["('7d7c9b5e-0000-4000-8000-000000000001', DATE '2024-03-20', 'login', 2)"],
    ),
    "mart_customer_profile": (
        "customer_id VARCHAR, signup_at TIMESTAMPTZ, signup_date DATE, age_group VARCHAR, "
        "gender VARCHAR, country VARCHAR, city VARCHAR, device_type VARCHAR, "
        "pet_species VARCHAR[], bookings BIGINT",
        [
            "('7d7c9b5e-0000-4000-8000-000000000001', TIMESTAMPTZ '2024-01-05 10:00:00+00', "
            "DATE '2024-01-05', '25–34', 'female', 'BR', 'São Paulo', 'mobile', ['dog'], 2)"
        ],
    ),
}

# Grain of each exported mart, for the oracle queries of the tests.
GRAIN: dict[str, tuple[str, ...]] = {
    "mart_customer_growth": ("interval", "period_start"),
    "mart_customer_activity": ("interval", "period_start", "activity_type"),
    "mart_active_users": ("activity_date",),
    "mart_customer_lifecycle": ("interval", "period_start", "status"),
    "mart_activity_heatmap": ("day_of_week", "hour_of_day"),
    "mart_customer_demographics": ("dimension", "segment", "currency"),
    "mart_service_usage": ("month", "service_category", "currency"),
    "mart_cohort_retention": ("cohort_month", "months_since_signup"),
    "mart_nday_retention": ("cohort_week", "day_n"),
    "mart_retention_monthly": ("month",),
    "mart_repeat_customers": ("month",),
    "mart_recommended_services_by_city": ("country", "city", "rank"),
}


def build_publication(
    settings: Settings,
    *,
    run_id: str = RUN_ID,
    published_at: datetime = PUBLISHED_AT,
    high_water_mark: datetime = HWM,
) -> Path:
    """Write the marts into ``build.duckdb`` and publish them; return the version directory."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    settings.build_db.unlink(missing_ok=True)
    con = duckdb.connect(str(settings.build_db))
    try:
        for mart, (ddl, rows) in MARTS.items():
            con.execute(f"create table {mart} ({ddl})")
            # Inserted in a scrambled order so that the exporter's ordering is exercised.
            for row in reversed(rows):
                con.execute(f"insert into {mart} values {row}")
        con.execute("checkpoint")
    finally:
        con.close()
    result = publish(
        settings, run_id=run_id, published_at=published_at, high_water_mark=high_water_mark
    )
    return result.version_dir
