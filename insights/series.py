"""The KPI series as the statistics see them: ``mart_metric_daily`` split per metric x currency.

One :class:`Series` is a metric (and currency, for money) over consecutive complete business
days, with its kind (count, daily_distinct, ratio, average, money: see the dbt model) and,
for ratios and averages, numerator and denominator. Labels and units say in words what a
metric is, for alert messages and the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

METRIC_DAILY = "mart_metric_daily"

# What each metric is, in words (alert messages, dashboard); the order is the dashboard's.
METRIC_LABELS: dict[str, str] = {
    "new_customers": "new customers",
    "active_customers": "active customers",
    "logins": "logins",
    "bookings_created": "bookings created",
    "bookings_cancelled": "bookings cancelled",
    "cancellation_rate": "cancellation rate",
    "payments_succeeded": "successful payments",
    "failed_payments": "failed payments",
    "payment_failure_rate": "payment failure rate",
    "reviews": "reviews",
    "average_rating": "average rating",
    "gross_revenue": "gross revenue",
    "refunds": "refunds",
    "net_revenue": "net revenue",
}

COUNT_KINDS = frozenset({"count", "daily_distinct"})
PROPORTION_KINDS = frozenset({"ratio", "average"})


@dataclass(frozen=True)
class Series:
    """One metric (x currency) over consecutive complete days, oldest first."""

    metric: str
    kind: str
    currency: str | None
    dates: np.ndarray  # datetime64[D]
    value: np.ndarray  # float64, NaN where undefined (ratio over 0)
    numerator: np.ndarray
    denominator: np.ndarray  # NaN for kinds without one

    @property
    def label(self) -> str:
        return METRIC_LABELS.get(self.metric, self.metric.replace("_", " "))

    def __len__(self) -> int:
        return int(self.dates.size)


def read_metric_daily(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``mart_metric_daily`` as a DataFrame (empty with the right columns if it has no rows)."""
    return con.execute(
        f"select metric_date, metric, metric_kind, currency, value, numerator, denominator "
        f"from {METRIC_DAILY} order by metric, currency nulls first, metric_date"
    ).df()


def split_series(frame: pd.DataFrame) -> Iterator[Series]:
    """One :class:`Series` per metric x currency; gaps between dates are filled as missing."""
    if frame.empty:
        return
    metric = frame["metric"].to_numpy(dtype=object)
    currency = frame["currency"].to_numpy(dtype=object, na_value=None)
    kind = frame["metric_kind"].to_numpy(dtype=object)
    dates = pd.to_datetime(frame["metric_date"]).to_numpy().astype("datetime64[D]")
    columns = {
        name: frame[name].to_numpy(dtype=float, na_value=np.nan)
        for name in ("value", "numerator", "denominator")
    }
    keys = np.array([f"{m}|{c or ''}" for m, c in zip(metric, currency, strict=True)])
    for key in sorted(set(keys.tolist())):
        rows = np.flatnonzero(keys == key)
        rows = rows[np.argsort(dates[rows], kind="stable")]
        days = dates[rows]
        full = np.arange(days[0], days[-1] + np.timedelta64(1, "D"), dtype="datetime64[D]")
        index = (days - days[0]).astype(np.int64)
        spread = {}
        for name, values in columns.items():
            out = np.full(full.size, np.nan)
            out[index] = values[rows]
            spread[name] = out
        yield Series(
            metric=str(metric[rows[0]]),
            kind=str(kind[rows[0]]),
            currency=currency[rows[0]] or None,
            dates=full,
            value=spread["value"],
            numerator=spread["numerator"],
            denominator=spread["denominator"],
        )


def as_date(day: np.datetime64) -> date:
    return pd.Timestamp(day).date()
