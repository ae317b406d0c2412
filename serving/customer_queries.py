"""The SQL of the customer endpoints: segment explorer, customer view, activity history.

All answers come from the published customer-level marts (UUIDs only): the profile and
segments (dbt), RFM (dbt), churn risk and lifetime value (derived marts of the publication)
and the bounded recent activity log. The explorer counts *distinct customers* of each
combination of dimensions from one row per customer (per pet species owned, like the
demographics mart), never by adding up per-segment counts. Identifiers in SQL come only from
the allow-lists below; request values are bound parameters.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from serving.params import InvalidRequest, shown
from serving.sql import Rows, fetch

MAX_DIMS = 3
# Explorer dimension -> SQL expression over the per-customer base (aliases in _BASE).
EXPLORE_DIMS: dict[str, str] = {
    "age_group": "base.age_group",
    "gender": "base.gender",
    "country": "base.country",
    "city": "base.city",
    "device_type": "base.device_type",
    "pet_species": "base.pet_species",
    "signup_cohort": "strftime(base.signup_date, '%Y-%m')",
    "rfm_segment": "coalesce(base.rfm_segment, 'no_purchase')",
    "churn_band": "coalesce(base.risk_band, 'not_scored')",
}
# Explorer metric -> SQL aggregate over the customers of one combination.
EXPLORE_METRICS: dict[str, str] = {
    "customers": "count(distinct base.customer_id)",
    "active_customers_30d": "count(distinct base.customer_id) filter (where base.is_active_30d)",
    "churn_scored_customers": "count(distinct base.customer_id) filter (where base.churn_probability is not null)",
    "avg_churn_probability": "avg(base.churn_probability)",
    "high_risk_customers": "count(distinct base.customer_id) filter (where base.risk_band = 'high')",
    "clv_customers": "count(distinct base.customer_id) filter (where base.expected_transactions_365d is not null)",
    "avg_expected_transactions_365d": "avg(base.expected_transactions_365d)",
    "avg_probability_alive": "avg(base.probability_alive)",
}
# Per-currency metric (money is never averaged across currencies): {currency: value}.
CURRENCY_METRICS: dict[str, str] = {
    "avg_expected_value_365d": "avg(base.expected_value_365d)",
}
DEFAULT_METRICS = ("customers", "active_customers_30d", "avg_churn_probability")

# One row per customer; per pet species owned (``none`` without pets) only when pet_species
# is a dimension, so that every aggregate sees each customer once per combination.
_SPECIES = (
    "unnest(case when len(profile.pet_species) = 0 then ['none'] else profile.pet_species end)"
)
_BASE = """
    select profile.customer_id, profile.signup_date, profile.age_group, profile.gender,
           profile.country, profile.city, profile.device_type,
           {species} as pet_species,
           summary.is_active_30d, rfm.segment as rfm_segment,
           churn.churn_probability, churn.risk_band,
           clv.expected_transactions_365d, clv.probability_alive,
           clv.expected_value_365d, clv.currency
    from mart_customer_profile as profile
    left join mart_customer_activity_summary as summary using (customer_id)
    left join mart_customer_rfm as rfm using (customer_id)
    left join mart_customer_churn_risk as churn using (customer_id)
    left join mart_customer_clv as clv using (customer_id)
"""


def parse_explore(dims: str | None, metric: str | None) -> tuple[list[str], list[str]]:
    """Validated dimensions (1..3, distinct) and metrics (default: DEFAULT_METRICS)."""
    names = [d.strip() for d in (dims or "").split(",") if d.strip()]
    if not names:
        raise InvalidRequest(f"dims is required: one to {MAX_DIMS} of {sorted(EXPLORE_DIMS)}")
    unknown = [d for d in names if d not in EXPLORE_DIMS]
    if unknown:
        raise InvalidRequest(
            f"dims={shown(','.join(unknown))} is not a dimension; use up to {MAX_DIMS} of "
            f"{sorted(EXPLORE_DIMS)}"
        )
    if len(set(names)) != len(names) or len(names) > MAX_DIMS:
        raise InvalidRequest(
            f"dims={shown(','.join(names))}: give one to {MAX_DIMS} different dimensions"
        )
    metrics = [m.strip() for m in (metric or "").split(",") if m.strip()] or list(DEFAULT_METRICS)
    allowed = {**EXPLORE_METRICS, **CURRENCY_METRICS}
    bad = [m for m in metrics if m not in allowed]
    if bad:
        raise InvalidRequest(
            f"metric={shown(','.join(bad))} is not a metric; use any of {sorted(allowed)}"
        )
    return names, list(dict.fromkeys(metrics))


def explore(cur: duckdb.DuckDBPyConnection, dims: list[str], metrics: list[str]) -> Rows:
    """Exact distinct-customer counts and metrics per combination of ``dims``."""
    keys = ", ".join(f"{EXPLORE_DIMS[d]} as {d}" for d in dims)
    group = ", ".join(str(i + 1) for i in range(len(dims)))
    plain = [m for m in metrics if m in EXPLORE_METRICS]
    money = [m for m in metrics if m in CURRENCY_METRICS]
    aggregates = "".join(f", {EXPLORE_METRICS[m]} as {m}" for m in plain)
    base = _BASE.format(species=_SPECIES if "pet_species" in dims else "null")
    rows = fetch(
        cur,
        f"select {keys}{aggregates} from ({base}) as base group by {group} order by {group}",
    )
    if money:
        per_currency = fetch(
            cur,
            f"select {keys}, base.currency"
            + "".join(f", {CURRENCY_METRICS[m]} as {m}" for m in money)
            + f" from ({base}) as base where base.currency is not null"
            f" group by {group}, base.currency order by {group}, base.currency",
        )
        by_key: dict[tuple, dict[str, dict[str, float]]] = {}
        for r in per_currency:
            slot = by_key.setdefault(tuple(r[d] for d in dims), {m: {} for m in money})
            for m in money:
                slot[m][r["currency"]] = r[m]
        for row in rows:
            row.update(by_key.get(tuple(row[d] for d in dims), {m: {} for m in money}))
    return rows


def customer_exists(cur: duckdb.DuckDBPyConnection, customer_id: str) -> bool:
    cur.execute("select 1 from mart_customer_profile where customer_id = ?", [customer_id])
    return cur.fetchone() is not None


def _one(cur: duckdb.DuckDBPyConnection, sql: str, customer_id: str) -> dict[str, Any] | None:
    rows = fetch(cur, sql, [customer_id])
    return rows[0] if rows else None


def _log_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"]) if row.get("metadata") else {}
    return row


LOG_COLUMNS = "activity_id, activity_type, activity_at, description, device_type, metadata"


def customer_view(cur: duckdb.DuckDBPyConnection, customer_id: str, recent: int = 10) -> dict:
    """Profile (no personal data), segments, RFM, churn risk, lifetime value, recent activity."""
    profile = _one(
        cur,
        """select customer_id, signup_at, signup_date, age_group, gender, country, city,
                  device_type, pet_species, bookings
           from mart_customer_profile where customer_id = ?""",
        customer_id,
    )
    segments: dict[str, list[str]] = {}
    for r in fetch(
        cur,
        "select dimension, segment from mart_customer_segments where customer_id = ? "
        "order by dimension, segment",
        [customer_id],
    ):
        segments.setdefault(r["dimension"], []).append(r["segment"])
    return {
        "profile": profile,
        "segments": segments,
        "activity_summary": _one(
            cur,
            """select events, first_activity_date, last_activity_date, is_active_30d
               from mart_customer_activity_summary where customer_id = ?""",
            customer_id,
        ),
        "rfm": _one(
            cur,
            """select as_of_date, recency_days, frequency, currency, monetary, r_score, f_score,
                      m_score, rfm_cell, segment
               from mart_customer_rfm where customer_id = ?""",
            customer_id,
        ),
        "churn_risk": _one(
            cur,
            """select churn_probability, risk_band, as_of_date, scored_at, model, model_version
               from mart_customer_churn_risk where customer_id = ?""",
            customer_id,
        ),
        "lifetime_value": _one(
            cur,
            """select currency, transactions, first_transaction_date, last_transaction_date,
                      probability_alive, expected_transactions_90d, expected_transactions_365d,
                      expected_average_value, expected_value_90d, expected_value_365d,
                      as_of_date, model, model_version
               from mart_customer_clv where customer_id = ?""",
            customer_id,
        ),
        "recent_activity": [
            _log_row(r)
            for r in fetch(
                cur,
                f"""select {LOG_COLUMNS} from mart_customer_activity_log where customer_id = ?
                    order by activity_at desc, activity_id desc limit ?""",
                [customer_id, recent],
            )
        ],
    }


def activity_window(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The dates the published activity log covers."""
    rows = fetch(
        cur,
        "select min(activity_date) as window_start, max(activity_date) as window_end "
        "from mart_customer_activity_log",
    )
    return rows[0]


def user_activities(
    cur: duckdb.DuckDBPyConnection, customer_id: str, page: int, page_size: int
) -> tuple[int, Rows]:
    """One page of a customer's recent history (newest first) and the total in the log."""
    cur.execute(
        "select count(*) from mart_customer_activity_log where customer_id = ?", [customer_id]
    )
    total = int(cur.fetchone()[0])
    rows = fetch(
        cur,
        f"""select {LOG_COLUMNS} from mart_customer_activity_log where customer_id = ?
            order by activity_at desc, activity_id desc limit ? offset ?""",
        [customer_id, page_size, (page - 1) * page_size],
    )
    return total, [_log_row(r) for r in rows]


def recent_activities(cur: duckdb.DuckDBPyConnection, limit: int) -> Rows:
    """The latest activities of all customers (customer UUID, never personal data)."""
    rows = fetch(
        cur,
        f"""select customer_id, {LOG_COLUMNS} from mart_customer_activity_log
            order by activity_at desc, activity_id desc limit ?""",
        [limit],
    )
    return [_log_row(r) for r in rows]


def distributions(cur: duckdb.DuckDBPyConnection) -> dict[str, Rows]:
    """Churn probability in ten bins, 365-day expected value in ten bins per currency, RFM
    segment counts, and the evaluation rows of the model versions that scored this publication."""
    churn = fetch(
        cur,
        """select least(cast(floor(churn_probability * 10) as integer), 9) as bin,
                  count(*) as customers
           from mart_customer_churn_risk group by 1 order by 1""",
    )
    for row in churn:
        row["low"], row["high"] = row["bin"] / 10, (row["bin"] + 1) / 10
    clv = fetch(
        cur,
        """with v as (
               select currency, expected_value_365d as value,
                      max(expected_value_365d) over (partition by currency) as top
               from mart_customer_clv where expected_value_365d is not null)
           select currency,
                  least(cast(floor(value / nullif(top, 0) * 10) as integer), 9) as bin,
                  any_value(top) as top, count(*) as customers
           from v group by 1, 2 order by 1, 2""",
    )
    for row in clv:
        top = row.pop("top") or 0.0
        bin_ = row["bin"] or 0
        row["bin"], row["low"], row["high"] = bin_, top * bin_ / 10, top * (bin_ + 1) / 10
    rfm = fetch(
        cur,
        "select segment, count(*) as customers from mart_customer_rfm group by 1 order by 2 desc, 1",
    )
    evaluation = fetch(
        cur,
        """select e.model, e.model_version, e.role, e.metric, e.value, e.n
           from mart_model_evaluation as e
           where e.model_version in (select model_version from mart_customer_churn_risk
                                     union select model_version from mart_customer_clv)
           order by e.model, e.metric""",
    )
    return {"churn": churn, "clv": clv, "rfm": rfm, "evaluation": evaluation}


PREDICTION_MARTS = (
    "mart_customer_rfm",
    "mart_customer_churn_risk",
    "mart_customer_clv",
    "mart_model_evaluation",
    "mart_customer_activity_log",
)


def missing_marts(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Prediction marts absent from the publication (one published before this version)."""
    present = {
        r[0]
        for r in cur.execute(
            "select table_name from information_schema.tables where table_schema = 'main'"
        ).fetchall()
    }
    return [m for m in PREDICTION_MARTS if m not in present]
