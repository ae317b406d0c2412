"""The leakage guard and the churn features on hand-written marts.

Two customers with hand-written history; the expected feature values are counted by hand in
the comments. A builder that reads the future of the snapshot (here: engaged days in the 60
days after it, the very outcome) fails the guard, and so does a builder that does not say
which dates it read.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import yaml

from predictions.churn_features import (
    DEFAULT_BUILDERS,
    ENGAGEMENT_TYPES,
    build_features,
    churn_labels,
    labelled,
)
from predictions.history import SOURCE_MAX_DATE, LeakageError

A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"
SNAPSHOT = date(2025, 3, 1)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "marts.duckdb"))
    con.execute(
        "create table mart_customer_profile as select * from (values "
        f"('{A}', date '2024-12-01', 'female', '25-34', 'Germany'), "
        f"('{B}', date '2025-01-15', 'male', 'unknown', 'France'), "
        # signed up on the snapshot day: not a customer yet at the snapshot
        "('00000000-0000-4000-8000-00000000000c', date '2025-03-01', 'male', '65+', 'France')"
        ") t(customer_id, signup_date, gender, age_group, country)"
    )
    con.execute(
        "create table mart_customer_activity_daily as select * from (values "
        f"('{A}', date '2024-12-01', 'account_created', 1), "
        f"('{A}', date '2025-01-10', 'booking_created', 1), "
        f"('{A}', date '2025-02-10', 'login', 2), "
        f"('{A}', date '2025-02-20', 'booking_cancelled', 1), "
        f"('{A}', date '2025-03-05', 'booking_created', 1), "  # after the snapshot: outcome only
        f"('{B}', date '2025-01-15', 'account_created', 1), "
        f"('{B}', date '2025-02-27', 'login', 1), "
        f"('{B}', date '2025-02-28', 'payment_made', 1)"
        ") t(customer_id, activity_date, activity_type, events)"
    )
    con.execute(
        "create table mart_customer_transactions as select * from (values "
        f"('{A}', date '2025-01-12', 'EUR', 40.00::decimal(18,2)), "
        f"('{B}', date '2025-02-28', 'EUR', 25.50::decimal(18,2)), "
        f"('{B}', date '2025-02-28', 'USD', 10.00::decimal(18,2)), "
        f"('{B}', date '2025-03-02', 'EUR', 99.00::decimal(18,2))"  # after the snapshot
        ") t(customer_id, paid_date, currency, amount)"
    )
    yield con
    con.close()


def test_features_see_only_rows_before_the_snapshot(con) -> None:
    f = build_features(con, SNAPSHOT).set_index("customer_id")
    assert list(f.index) == [A, B]  # C signed up on the snapshot day
    a, b = f.loc[A], f.loc[B]
    # A: last activity 2025-02-20 (9 days before), last engaged 2025-01-10 (50 days),
    # active days 12-01, 01-10, 02-10, 02-20; in [S-30, S): 02-10, 02-20; in [S-90, S) all
    # four (S - 90 = 2024-12-01).
    assert (a.recency_days, a.engaged_recency_days, a.tenure_days) == (9, 50, 90)
    assert (a.active_days_30, a.active_days_90, a.active_days_total) == (2, 4, 4)
    assert (a.bookings_total, a.cancellations_total, a.cancellation_share) == (1, 1, 1.0)
    assert (a.payments_total, a.spend_total_eur, a.spend_total_usd) == (1, 40.0, 0.0)
    # B: the 99 EUR of 2025-03-02 is after the snapshot and must not count.
    assert (b.recency_days, b.engaged_recency_days, b.tenure_days) == (1, 1, 45)
    assert (b.payments_total, b.spend_total_eur, b.spend_total_usd) == (2, 25.5, 10.0)
    labels = labelled(con, SNAPSHOT).set_index("customer_id")["churned"]
    assert labels.to_dict() == {A: 0, B: 1}  # A books on 03-05; B does nothing engaged after


def _future_engagement(con: duckdb.DuckDBPyConnection, snapshot: date) -> pa.Table:
    """A leaky feature: engaged days in the 60 days *after* the snapshot (the outcome itself)."""
    return con.sql(
        f"""select customer_id, count(*) as engaged_days_next_60,
                  max(activity_date) as _source_max_date
           from main.mart_customer_activity_daily
           where activity_type in ('booking_created', 'payment_made')
             and activity_date >= DATE '{snapshot}' and activity_date < DATE '{snapshot}' + 60
           group by customer_id"""
    ).to_arrow_table()


def test_the_guard_refuses_a_feature_computed_from_after_the_snapshot(con) -> None:
    with pytest.raises(LeakageError, match="_future_engagement read data dated 2025-03-05"):
        build_features(con, SNAPSHOT, builders=(*DEFAULT_BUILDERS, _future_engagement))


def test_the_guard_refuses_a_builder_that_does_not_report_its_dates(con) -> None:
    def silent(con: duckdb.DuckDBPyConnection, snapshot: date) -> pa.Table:
        return con.sql("select customer_id, 1 as x from hist_customers").to_arrow_table()

    with pytest.raises(LeakageError, match="does not report"):
        build_features(con, SNAPSHOT, builders=(*DEFAULT_BUILDERS, silent))


def test_every_default_builder_reports_dates_before_the_snapshot(con) -> None:
    build_features(con, SNAPSHOT)
    for builder in DEFAULT_BUILDERS:
        table = builder(con, SNAPSHOT)
        assert SOURCE_MAX_DATE in table.column_names
        assert max(table[SOURCE_MAX_DATE].to_pylist()) < SNAPSHOT


def test_labels_read_only_the_horizon(con) -> None:
    assert set(churn_labels(con, SNAPSHOT)["customer_id"]) == {A}
    assert set(churn_labels(con, date(2025, 3, 6))["customer_id"]) == set()


def test_engagement_types_are_the_dbt_variable() -> None:
    project = yaml.safe_load(Path("dbt_project/dbt_project.yml").read_text())
    assert tuple(project["vars"]["engagement_activity_types"]) == ENGAGEMENT_TYPES
