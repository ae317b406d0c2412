"""The insights of the published KPI series: anomalies, trends, KPI tiles and alerts.

- ``GET /v2/insights`` — ``mart_metric_anomalies`` (every day: observed value, expected value
  and band, score, anomaly flag) and ``mart_metric_trends`` (weeks and months: change against
  the previous period and a year earlier, 4- and 12-week trend), filtered by ``metric``
  (comma-separated), ``currency``, ``start``/``end`` (dates, inclusive), ``direction``
  (``up``/``down``: only anomalies in that direction) and ``interval`` (``week``/``month``,
  for the trends).
- ``GET /v2/insights/kpis`` — per metric the latest complete week or month against the
  previous one and the same period a year earlier (the dashboard's tiles).
- ``GET /v2/insights/alerts`` — the latest alert records (``$PETPRO_HOME/alerts``), newest
  first; not cached, since alerts are written right after a publication.

Admin and analyst. Bad parameters are a 422 with one line, like every other endpoint.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from insights.alerts import latest_alerts
from insights.marts import ANOMALIES_MART, TRENDS_MART
from insights.series import METRIC_LABELS
from serving.auth import ANALYTICS
from serving.dependencies import answer, require
from serving.params import InvalidRequest, parse_day, shown
from serving.publication import Publication
from serving.responses import Answer

router = APIRouter(
    prefix="/v2/insights", tags=["insights"], dependencies=[Depends(require(ANALYTICS))]
)

DIRECTIONS = ("up", "down")
INTERVALS = ("week", "month")
KNOWN = frozenset({"metric", "currency", "start", "end", "direction", "interval", "limit"})


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string"}}  # fmt: skip


FILTER_DOCS = [
    _query("metric", "KPI names, comma-separated (e.g. bookings_created,new_customers)"),
    _query("currency", "ISO currency of the money KPIs (e.g. EUR)"),
    _query("start", "first business date, YYYY-MM-DD (inclusive)"),
    _query("end", "last business date, YYYY-MM-DD (inclusive)"),
    _query("direction", "up or down: only the anomalies in that direction"),
    _query("interval", "week or month (trends; the KPI tiles' period)"),
]
LIMIT_DOC = _query("limit", "how many alerts, 1 to 200 (default 20)")


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise InvalidRequest(f"{name} is given {len(values)} times; give it once")
    return values[0].strip() if values else None


def _filters(request: Request) -> dict[str, Any]:
    unknown = sorted(set(request.query_params) - KNOWN)
    if unknown:
        raise InvalidRequest(
            f"unknown parameter {shown(unknown[0])}; use {', '.join(sorted(KNOWN))}"
        )
    tz = request.app.state.settings.tz
    metrics = [m.strip() for m in (_one(request, "metric") or "").split(",") if m.strip()]
    for metric in metrics:
        if metric not in METRIC_LABELS:
            raise InvalidRequest(
                f"metric={shown(metric)} is not a KPI; use one of {', '.join(METRIC_LABELS)}"
            )
    start = _one(request, "start")
    end = _one(request, "end")
    first = parse_day("start", start, tz) if start else None
    last = parse_day("end", end, tz) if end else None
    if first and last and first > last:
        raise InvalidRequest(f"start={first} is after end={last}")
    direction = _one(request, "direction")
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidRequest(f"direction={shown(direction)}; use up or down")
    interval = _one(request, "interval")
    if interval is not None and interval not in INTERVALS:
        raise InvalidRequest(f"interval={shown(interval)}; use week or month")
    currency = _one(request, "currency")
    if currency is not None and not (currency.isalpha() and len(currency) == 3):
        raise InvalidRequest(f"currency={shown(currency)} is not an ISO currency code")
    return {
        "metrics": metrics,
        "currency": currency.upper() if currency else None,
        "start": first,
        "end": last,
        "direction": direction,
        "interval": interval,
    }


def _has(cur: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = cur.execute(
        "select count(*) from information_schema.tables where table_name = ?", [table]
    ).fetchone()
    return bool(row and row[0])


def _where(f: dict[str, Any], day: str) -> tuple[str, list[Any]]:
    clauses, params = ["true"], []
    if f["metrics"]:
        clauses.append("metric in (select unnest(?))")
        params.append(f["metrics"])
    if f["currency"]:
        clauses.append("currency = ?")
        params.append(f["currency"])
    if f["start"]:
        clauses.append(f"{day} >= ?")
        params.append(f["start"])
    if f["end"]:
        clauses.append(f"{day} <= ?")
        params.append(f["end"])
    return " and ".join(clauses), params


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = cur.execute(sql, params)
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def insights_payload(cur: duckdb.DuckDBPyConnection, f: dict[str, Any]) -> dict[str, Any]:
    anomalies: list[dict[str, Any]] = []
    trends: list[dict[str, Any]] = []
    if _has(cur, ANOMALIES_MART):
        where, params = _where(f, "metric_date")
        if f["direction"]:
            where += " and is_anomaly and direction = ?"
            params.append(f["direction"])
        anomalies = _rows(
            cur,
            f"select * from {ANOMALIES_MART} where {where} "
            "order by metric, currency nulls first, metric_date",
            params,
        )
    if _has(cur, TRENDS_MART):
        where, params = _where(f, "period_start")
        if f["interval"]:
            where += ' and "interval" = ?'
            params.append(f["interval"])
        trends = _rows(
            cur,
            f"select * from {TRENDS_MART} where {where} "
            'order by metric, currency nulls first, "interval", period_start',
            params,
        )
    return {"anomalies": anomalies, "trends": trends}


def kpis_payload(cur: duckdb.DuckDBPyConnection, interval: str) -> list[dict[str, Any]]:
    if not _has(cur, TRENDS_MART):
        return []
    return _rows(
        cur,
        f"""select metric, metric_kind, currency, "interval", period_start, value,
               previous_value, change_vs_previous, year_ago_value, change_vs_year_ago,
               trend_4w, trend_12w
            from {TRENDS_MART}
            where "interval" = ?
            qualify period_start = max(period_start) over ()
            order by metric, currency nulls first""",
        [interval],
    )


@router.get("", openapi_extra={"parameters": FILTER_DOCS})
async def insights(request: Request, answer: Answer = Depends(answer)) -> Response:
    """Anomalies (every day, with expected band) and weekly/monthly trends of the KPIs."""
    f = _filters(request)

    def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
        meta_filters = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in f.items()}
        return {
            "meta": {
                "marts": [ANOMALIES_MART, TRENDS_MART],
                "publication": pub.run_id,
                "published_at": pub.published_at,
                "high_water_mark": pub.high_water_mark,
                "filters": meta_filters,
                "labels": METRIC_LABELS,
            },
            "data": insights_payload(cur, f),
        }

    return await answer(compute)


@router.get("/kpis", openapi_extra={"parameters": FILTER_DOCS})
async def kpis(request: Request, answer: Answer = Depends(answer)) -> Response:
    """Per KPI the latest complete week (or ``interval=month``) vs. previous and a year earlier."""
    f = _filters(request)
    interval = f["interval"] or "week"

    def compute(cur: duckdb.DuckDBPyConnection, pub: Publication) -> dict[str, Any]:
        return {
            "meta": {"mart": TRENDS_MART, "publication": pub.run_id, "interval": interval,
                     "labels": METRIC_LABELS},
            "data": kpis_payload(cur, interval),
        }  # fmt: skip

    return await answer(compute)


@router.get("/alerts", openapi_extra={"parameters": [*FILTER_DOCS, LIMIT_DOC]})
async def alerts(request: Request) -> Response:
    """The latest metric alerts (newest first), ``limit`` at most 200 (default 20)."""
    f = _filters(request)
    text = _one(request, "limit") or "20"
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise InvalidRequest(f"limit={shown(text)}; use a whole number from 1 to 200")
    records = latest_alerts(request.app.state.settings, limit=200)
    if f["metrics"]:
        records = [r for r in records if r.get("metric") in f["metrics"]]
    return JSONResponse({"data": records[: int(text)]}, headers={"Cache-Control": "no-store"})
