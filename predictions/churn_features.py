"""Churn features and labels of every active customer at a snapshot date.

Features come only from the ``hist_*`` views of :mod:`predictions.history` (rows dated before
the snapshot), built by small SQL builders that each report the latest source date they read,
and every builder's output passes :func:`predictions.history.check_no_leakage` before it is
used. The population at snapshot S is every customer signed up before S with at least one
activity in the ``ACTIVE_WINDOW_DAYS`` days before S (an *active* customer). The label,
read separately by :func:`churn_labels`, is churn: no engaged activity (``booking_created``
or ``payment_made``, docs/metrics.md) in the ``HORIZON_DAYS`` days from S.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from predictions.history import SOURCE_MAX_DATE, check_no_leakage, install_history

ACTIVE_WINDOW_DAYS = 90
HORIZON_DAYS = 60
# The dbt variable engagement_activity_types (dbt_project.yml); a test keeps them equal.
ENGAGEMENT_TYPES: tuple[str, ...] = ("booking_created", "payment_made")
CATEGORICAL = ("gender", "age_group", "country")

FeatureBuilder = Callable[[duckdb.DuckDBPyConnection, date], pa.Table]


def _d(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def activity_features(con: duckdb.DuckDBPyConnection, snapshot: date) -> pa.Table:
    """Recency, frequency and trend of activity, bookings, cancellations and reviews."""
    s = _d(snapshot)
    engaged = ", ".join(f"'{t}'" for t in ENGAGEMENT_TYPES)
    return con.sql(
        f"""
        with days as (
            select customer_id, activity_date,
                   sum(events) as events,
                   bool_or(activity_type in ({engaged})) as engaged,
                   sum(events) filter (where activity_type = 'booking_created') as bookings,
                   sum(events) filter (where activity_type = 'booking_cancelled') as cancellations,
                   sum(events) filter (where activity_type = 'review_submitted') as reviews,
                   sum(events) filter (where activity_type = 'login') as logins
            from hist_activity_daily group by customer_id, activity_date
        )
        select customer_id,
               {s} - max(activity_date) as recency_days,
               {s} - max(activity_date) filter (where engaged) as engaged_recency_days,
               {s} - min(activity_date) as days_since_first_activity,
               count(*) filter (where activity_date >= {s} - 30) as active_days_30,
               count(*) filter (where activity_date >= {s} - 60 and activity_date < {s} - 30)
                   as active_days_prev_30,
               count(*) filter (where activity_date >= {s} - 90) as active_days_90,
               count(*) filter (where activity_date >= {s} - 365) as active_days_365,
               count(*) as active_days_total,
               count(*) filter (where engaged and activity_date >= {s} - 90) as engaged_days_90,
               count(*) filter (where engaged) as engaged_days_total,
               coalesce(sum(events) filter (where activity_date >= {s} - 30), 0) as events_30,
               coalesce(sum(events) filter (where activity_date >= {s} - 90), 0) as events_90,
               coalesce(sum(logins) filter (where activity_date >= {s} - 30), 0) as logins_30,
               coalesce(sum(bookings) filter (where activity_date >= {s} - 90), 0) as bookings_90,
               coalesce(sum(bookings), 0) as bookings_total,
               coalesce(sum(cancellations) filter (where activity_date >= {s} - 90), 0)
                   as cancellations_90,
               coalesce(sum(cancellations), 0) as cancellations_total,
               coalesce(sum(reviews), 0) as reviews_total,
               max(activity_date) as {SOURCE_MAX_DATE}
        from days group by customer_id
        """
    ).to_arrow_table()


def transaction_features(con: duckdb.DuckDBPyConnection, snapshot: date) -> pa.Table:
    """Payments: count, recency, and spend per currency (never summed across currencies)."""
    s = _d(snapshot)
    currencies = [
        r[0]
        for r in con.execute(
            "select distinct currency from main.mart_customer_transactions order by 1"
        ).fetchall()
    ]
    per_currency = "".join(
        f", coalesce(sum(amount) filter (where currency = '{c}'), 0)::double as spend_total_{c.lower()}"
        f", coalesce(sum(amount) filter (where currency = '{c}' and paid_date >= {s} - 90), 0)::double"
        f" as spend_90_{c.lower()}"
        for c in currencies
        if c.isalpha()
    )
    return con.sql(
        f"""
        select customer_id,
               count(*) as payments_total,
               count(*) filter (where paid_date >= {s} - 90) as payments_90,
               {s} - max(paid_date) as payment_recency_days
               {per_currency},
               max(paid_date) as {SOURCE_MAX_DATE}
        from hist_transactions group by customer_id
        """
    ).to_arrow_table()


def profile_features(con: duckdb.DuckDBPyConnection, snapshot: date) -> pa.Table:
    """Tenure and attributes known at signup (gender, age group, country).

    The age group is the published one (age at the high-water date): a function of the
    birth date known at signup, at most a year or two older than at the snapshot. Device and
    pet species are *not* used: the publication holds only their current values, which
    reflect behaviour after the snapshot (a later device, a pet added later).
    """
    s = _d(snapshot)
    return con.sql(
        f"""
        select customer_id,
               {s} - signup_date as tenure_days,
               gender, age_group, country,
               signup_date as {SOURCE_MAX_DATE}
        from hist_customers
        """
    ).to_arrow_table()


DEFAULT_BUILDERS: tuple[FeatureBuilder, ...] = (
    profile_features,
    activity_features,
    transaction_features,
)


def build_features(
    con: duckdb.DuckDBPyConnection,
    snapshot: date,
    builders: Sequence[FeatureBuilder] = DEFAULT_BUILDERS,
) -> pd.DataFrame:
    """Features of every active customer at ``snapshot`` (one row each), leakage-checked."""
    install_history(con, snapshot)
    frame: pd.DataFrame | None = None
    for builder in builders:
        table = builder(con, snapshot)
        check_no_leakage(table, snapshot, builder=getattr(builder, "__name__", repr(builder)))
        part = table.drop_columns([SOURCE_MAX_DATE]).to_pandas()
        frame = part if frame is None else frame.merge(part, on="customer_id", how="left")
    assert frame is not None
    active = frame["recency_days"].notna() & (frame["recency_days"] <= ACTIVE_WINDOW_DAYS)
    frame = frame.loc[active].sort_values("customer_id").reset_index(drop=True)
    for column in frame.columns:
        if column.startswith(("spend_", "payments_")):
            frame[column] = frame[column].fillna(0.0)
    frame["activity_trend_30"] = frame["active_days_30"] - frame["active_days_prev_30"]
    frame["cancellation_share"] = frame["cancellations_total"] / frame["bookings_total"].where(
        frame["bookings_total"] > 0
    )
    frame.insert(1, "snapshot_date", snapshot)
    return frame


def churn_labels(con: duckdb.DuckDBPyConnection, snapshot: date) -> pd.DataFrame:
    """``churned`` per customer: no engaged activity in [snapshot, snapshot + HORIZON_DAYS).

    Reads the *future* of the snapshot on purpose (this is the outcome); never a feature.
    """
    end = snapshot + timedelta(days=HORIZON_DAYS)
    engaged = ", ".join(f"'{t}'" for t in ENGAGEMENT_TYPES)
    engaged_ids = con.execute(
        f"""
        select distinct customer_id from main.mart_customer_activity_daily
        where activity_type in ({engaged})
          and activity_date >= {_d(snapshot)} and activity_date < {_d(end)}
        """
    ).fetchall()
    return pd.DataFrame({"customer_id": [r[0] for r in engaged_ids], "churned": 0})


def labelled(con: duckdb.DuckDBPyConnection, snapshot: date) -> pd.DataFrame:
    """Features at ``snapshot`` with the churn label (1 = churned)."""
    features = build_features(con, snapshot)
    labels = churn_labels(con, snapshot)
    frame = features.merge(labels, on="customer_id", how="left")
    frame["churned"] = frame["churned"].fillna(1).astype(np.int8)
    return frame
