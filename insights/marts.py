"""The derived insight marts and the publish step that computes them.

:func:`derive_insight_marts` is a :data:`warehouse.publish.Deriver`: ``publish(settings, ...,
derive=[derive_insight_marts])`` runs it on the *staged* publication, so the anomalies and
trends always belong to the same version as the ``mart_metric_daily`` they come from. Their
Arrow schemas are defined here once (the README documents every column).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from insights.anomalies import detect
from insights.series import METRIC_DAILY, Series, read_metric_daily, split_series
from insights.trends import period_trends

ANOMALIES_MART = "mart_metric_anomalies"
TRENDS_MART = "mart_metric_trends"

ANOMALIES_SCHEMA = pa.schema(
    [
        pa.field("metric_date", pa.date32(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("metric_kind", pa.string(), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("observed", pa.float64()),
        pa.field("expected", pa.float64()),
        pa.field("lower_bound", pa.float64()),
        pa.field("upper_bound", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("is_anomaly", pa.bool_(), nullable=False),
        pa.field("method", pa.string(), nullable=False),
    ]
)

TRENDS_SCHEMA = pa.schema(
    [
        pa.field("interval", pa.string(), nullable=False),
        pa.field("period_start", pa.date32(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("metric_kind", pa.string(), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("previous_value", pa.float64()),
        pa.field("change_vs_previous", pa.float64()),
        pa.field("year_ago_value", pa.float64()),
        pa.field("change_vs_year_ago", pa.float64()),
        pa.field("trend_4w_slope", pa.float64()),
        pa.field("trend_4w_p_value", pa.float64()),
        pa.field("trend_4w", pa.string()),
        pa.field("trend_12w_slope", pa.float64()),
        pa.field("trend_12w_p_value", pa.float64()),
        pa.field("trend_12w", pa.string()),
    ]
)


def _series(frame: pd.DataFrame | list[Series]) -> list[Series]:
    return frame if isinstance(frame, list) else list(split_series(frame))


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def anomalies_table(frame: pd.DataFrame | list[Series]) -> pa.Table:
    """``mart_metric_anomalies`` from the rows of ``mart_metric_daily`` (or its series)."""
    columns: dict[str, list] = {field.name: [] for field in ANOMALIES_SCHEMA}
    for series in _series(frame):
        found = detect(series)
        keep = np.isfinite(series.numerator) | np.isfinite(series.value)  # days in the mart
        n = int(keep.sum())
        columns["metric_date"] += [d.item() for d in series.dates[keep]]
        columns["metric"] += [series.metric] * n
        columns["metric_kind"] += [series.kind] * n
        columns["currency"] += [series.currency] * n
        columns["observed"] += _finite(found.observed[keep])
        columns["expected"] += _finite(found.expected[keep])
        columns["lower_bound"] += _finite(found.lower[keep])
        columns["upper_bound"] += _finite(found.upper[keep])
        columns["score"] += _finite(found.score[keep])
        columns["direction"] += list(found.direction[keep])
        columns["is_anomaly"] += [bool(v) for v in found.is_anomaly[keep]]
        columns["method"] += [found.method] * n
    return pa.table(columns, schema=ANOMALIES_SCHEMA)


def trends_table(frame: pd.DataFrame | list[Series]) -> pa.Table:
    """``mart_metric_trends`` from the rows of ``mart_metric_daily`` (or its series)."""
    parts = [period_trends(series) for series in _series(frame)]
    parts = [part for part in parts if not part.empty]
    if not parts:
        return TRENDS_SCHEMA.empty_table()
    rows = pd.concat(parts, ignore_index=True)
    rows = rows.astype(object).where(rows.notna(), None)
    return pa.Table.from_pandas(rows, schema=TRENDS_SCHEMA, preserve_index=False)


def derive_insight_marts(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The publish step: anomalies and trends of the staged version's ``mart_metric_daily``.

    A version without ``mart_metric_daily`` (an older dbt project) gets no insight marts
    rather than a failed publication; the publisher reports missing contract marts.
    """
    present = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [METRIC_DAILY]
    ).fetchone()
    if not present or not present[0]:
        return {}
    series = list(split_series(read_metric_daily(con)))
    return {ANOMALIES_MART: anomalies_table(series), TRENDS_MART: trends_table(series)}
