"""Weekly and monthly values of a KPI series, their changes, and whether they are trending.

For each complete ISO week and calendar month: the value (counts and money summed, daily
distinct customers averaged per day, ratios and averages as pooled numerator / denominator),
the change against the previous period and against the same period a year earlier (52 weeks
earlier for weeks, so weekdays line up), and the trend over the 4 and 12 weeks ending on the
period's last day.

The trend test is the seasonal Mann–Kendall test (Hirsch & Slack) on the daily values with
the weekday as season: Mondays are compared only with Mondays, so the weekly rhythm is
neither a trend nor noise that hides one; ties (common in small counts) are corrected for.
The slope is the seasonal Sen (Theil–Sen) estimator, the median of all within-weekday
pairwise slopes, reported per week in the metric's daily unit. A trend is *rising* or
*falling* when the test's two-sided p-value is below :data:`SIGNIFICANCE` and the change it
implies over the window is at least :data:`MATERIAL_CHANGE` of the window's mean level
(a significant 0.1 % drift is not news); otherwise *flat*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from insights.series import Series

SIGNIFICANCE = 0.05
MATERIAL_CHANGE = 0.05
TREND_WEEKS = (4, 12)
MIN_COVERAGE = 0.75


@dataclass(frozen=True)
class Trend:
    slope_per_week: float | None
    p_value: float | None
    label: str | None


@lru_cache(maxsize=16)
def _pairs(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(m, k=1)


def seasonal_mann_kendall(values: np.ndarray, period: int = 7) -> tuple[float, float]:
    """(per-step seasonal Sen slope, two-sided p-value) of ``values``; ``values[i]`` belongs
    to season ``i % period`` and its length is a multiple of ``period``. NaN values are left
    out; the variance is corrected for ties."""
    x = values.reshape(-1, period)  # rows: cycles (weeks), columns: seasons (weekdays)
    i, j = _pairs(x.shape[0])
    diff = x[j] - x[i]  # pairs x seasons, NaN where either is missing
    finite = np.isfinite(diff)
    if not finite.any():
        return np.nan, 1.0
    s_total = float(np.sign(diff[finite]).sum())
    present = np.isfinite(x)
    m = present.sum(axis=0).astype(float)
    # A value in a tie group of size t has t equal values (itself included) in its season:
    # summing (t - 1)(2t + 5) over the values gives the usual sum of t(t - 1)(2t + 5) by group.
    equal = (x[:, None, :] == x[None, :, :]).sum(axis=1).astype(float)
    ties = np.where(present, (equal - 1) * (2 * equal + 5), 0.0).sum(axis=0)
    variance = float((m * (m - 1) * (2 * m + 5) - ties).sum()) / 18.0
    slopes = diff / ((j - i) * period)[:, None]
    slope = float(np.median(slopes[finite]))
    if variance <= 0:
        return slope, 1.0
    z = (s_total - np.sign(s_total)) / math.sqrt(variance)
    return slope, math.erfc(abs(z) / math.sqrt(2.0))


def trend(daily: np.ndarray, weeks: int) -> Trend:
    """The trend of the last ``weeks`` weeks of daily values (ending with ``daily[-1]``)."""
    window = daily[-7 * weeks :]
    if window.size < 7 * weeks or np.isfinite(window).mean() < MIN_COVERAGE:
        return Trend(None, None, None)
    slope, p_value = seasonal_mann_kendall(window)
    slope_week = slope * 7
    level = float(np.nanmean(window))
    material = abs(slope_week * weeks) >= MATERIAL_CHANGE * abs(level) and slope_week != 0
    label = "flat"
    if p_value < SIGNIFICANCE and material:
        label = "rising" if slope_week > 0 else "falling"
    return Trend(slope_week, p_value, label)


def _period_starts(dates: np.ndarray, interval: str) -> np.ndarray:
    """The start (datetime64[D]) of each day's ISO week or month."""
    if interval == "week":
        return dates - ((dates.astype(np.int64) + 3) % 7).astype("timedelta64[D]")
    return dates.astype("datetime64[M]").astype("datetime64[D]")


def _period_end(start: np.datetime64, interval: str) -> np.datetime64:
    if interval == "week":
        return start + np.timedelta64(7, "D")
    return (start.astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")


def _year_before(start: np.datetime64, interval: str) -> np.datetime64:
    if interval == "week":
        return start - np.timedelta64(364, "D")
    return (start.astype("datetime64[M]") - np.timedelta64(12, "M")).astype("datetime64[D]")


def _aggregate(series: Series, lo: int, hi: int) -> float:
    """The period's value from the daily rows ``lo:hi``."""
    if series.kind in ("count", "money"):
        return float(np.nansum(series.value[lo:hi]))
    if series.kind == "daily_distinct":
        return float(np.nanmean(series.value[lo:hi]))
    den = float(np.nansum(series.denominator[lo:hi]))
    return float(np.nansum(series.numerator[lo:hi]) / den) if den > 0 else np.nan


def _change(value: float, before: float | None) -> float | None:
    if before is None or not np.isfinite(before) or before == 0 or not np.isfinite(value):
        return None
    return (value - before) / abs(before)


def period_trends(series: Series) -> pd.DataFrame:
    """One row per complete week and month of ``series`` (see the module docstring)."""
    dates = series.dates
    if dates.size == 0:
        return pd.DataFrame()
    first, last = dates[0], dates[-1]
    daily = np.asarray(series.value, dtype=float)
    cache: dict[int, tuple[Trend, ...]] = {}
    rows = []
    for interval in ("week", "month"):
        starts = np.unique(_period_starts(dates, interval))
        values: dict[np.datetime64, float] = {}
        previous: float | None = None
        for start in starts:
            end = _period_end(start, interval)
            if start < first or end - np.timedelta64(1, "D") > last:
                continue  # the first and the current period are incomplete
            lo, hi = int((start - first).astype(int)), int((end - first).astype(int))
            value = _aggregate(series, lo, hi)
            values[start] = value
            year_ago = values.get(_year_before(start, interval))
            if hi not in cache:
                cache[hi] = tuple(trend(daily[:hi], weeks) for weeks in TREND_WEEKS)
            short, long = cache[hi]
            rows.append(
                {
                    "interval": interval,
                    "period_start": start.item(),
                    "metric": series.metric,
                    "metric_kind": series.kind,
                    "currency": series.currency,
                    "value": value,
                    "previous_value": previous,
                    "change_vs_previous": _change(value, previous),
                    "year_ago_value": year_ago,
                    "change_vs_year_ago": _change(value, year_ago),
                    "trend_4w_slope": short.slope_per_week,
                    "trend_4w_p_value": short.p_value,
                    "trend_4w": short.label,
                    "trend_12w_slope": long.slope_per_week,
                    "trend_12w_p_value": long.p_value,
                    "trend_12w": long.label,
                }
            )
            previous = value
    return pd.DataFrame(rows)
