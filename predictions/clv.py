"""Customer lifetime value: BG/NBD for repeat transactions, Gamma–Gamma for spend per currency.

A *transaction* is a day (business time zone) on which the customer paid at least once
(``mart_customer_transactions``: collected payments); its value is what was paid that day in
the customer's main currency (the currency of most of their payments; amounts of different
currencies are never added). A customer enters the model with their first transaction day, so
the calibration summary at day C is ``x`` = transaction days after the first one, ``t_x`` =
days from the first to the last, ``T`` = days from the first to C (the notation of
:mod:`predictions.bgnbd`). Gamma–Gamma is fitted per currency on the customers with repeat
transactions, on the mean value of their repeat days.

:func:`evaluate_clv` fits on the calibration period (transactions up to C) and predicts the
holdout (C, H]: predicted versus actual repeat transactions in total and per customer, next
to a naive baseline (each customer repeats at their calibration rate x / T). Training
(:func:`train_clv`) records that back-test as the evaluation of the version, then refits on
every transaction up to the high-water date for scoring (the population parameters use all
data; the back-test shows how the method predicts an unseen period). Scoring publishes
``mart_customer_clv`` for every customer with a transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from petpro.errors import PetProError
from petpro.settings import Settings
from predictions.bgnbd import (
    BGNBDParams,
    FitError,
    GammaGammaParams,
    expected_average_value,
    expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)
from predictions.evaluation import EvaluationRun, evaluation_rows
from predictions.history import high_water_date
from predictions.registry import (
    ModelVersion,
    latest_version,
    new_version_id,
    save_version,
    versions,
)

MODEL = "clv_bgnbd"
BASELINE = "clv_calibration_rate_baseline"
MART = "mart_customer_clv"
PARAMS_FILE = "params.json"
HOLDOUT_DAYS = 90
HORIZONS = (90, 365)
FREQUENCY_BUCKETS = (0, 1, 2, 3, 4, 5, 6, 7)  # the last one is "7 or more"

CLV_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),  # the customer's UUID
        pa.field("currency", pa.string(), nullable=False),  # main currency of the customer
        pa.field("transactions", pa.int64(), nullable=False),  # transaction days so far
        pa.field("first_transaction_date", pa.date32(), nullable=False),
        pa.field("last_transaction_date", pa.date32(), nullable=False),
        pa.field("probability_alive", pa.float64(), nullable=False),  # BG/NBD P(alive)
        pa.field("expected_transactions_90d", pa.float64(), nullable=False),
        pa.field("expected_transactions_365d", pa.float64(), nullable=False),
        pa.field("expected_average_value", pa.float64()),  # Gamma-Gamma, in currency
        pa.field("expected_value_90d", pa.float64()),  # transactions x average value, in currency
        pa.field("expected_value_365d", pa.float64()),
        pa.field("as_of_date", pa.date32(), nullable=False),  # transactions up to this day
        pa.field("scored_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model", pa.string(), nullable=False),  # clv_bgnbd
        pa.field("model_version", pa.string(), nullable=False),
    ]
)


class NoTransactionsError(PetProError):
    """There are no transactions to fit the lifetime-value model on."""


def transaction_days(con: duckdb.DuckDBPyConnection, until: date) -> pd.DataFrame:
    """One row per customer and transaction day up to ``until`` (inclusive), main-currency value."""
    return con.execute(
        """
        with main_currency as (
            select customer_id, currency,
                   row_number() over (partition by customer_id
                                      order by count(*) desc, currency) as rank
            from main.mart_customer_transactions where paid_date <= ?
            group by customer_id, currency
        )
        select t.customer_id, t.paid_date, any_value(m.currency) as currency,
               coalesce(sum(t.amount) filter (where t.currency = m.currency), 0)::double as value
        from main.mart_customer_transactions as t
        join main_currency as m on m.customer_id = t.customer_id and m.rank = 1
        where t.paid_date <= ?
        group by t.customer_id, t.paid_date
        order by t.customer_id, t.paid_date
        """,
        [until, until],
    ).df()


def summarize(days: pd.DataFrame, calibration_end: date) -> pd.DataFrame:
    """Per customer: x, t_x, T (days), main currency and mean value of the repeat days."""
    if days.empty:
        return pd.DataFrame(
            columns=["customer_id", "x", "t_x", "T", "currency", "m", "first", "last"]
        )
    d = days.copy()
    d["paid_date"] = pd.to_datetime(d["paid_date"])
    d["order"] = d.groupby("customer_id").cumcount()
    grouped = d.groupby("customer_id")
    first = grouped["paid_date"].min()
    last = grouped["paid_date"].max()
    repeat_values = d.loc[d["order"] > 0].groupby("customer_id")["value"].mean()
    summary = pd.DataFrame(
        {
            "x": grouped.size() - 1,
            "t_x": (last - first).dt.days,
            "T": (pd.Timestamp(calibration_end) - first).dt.days,
            "currency": grouped["currency"].first(),
            "m": repeat_values,
            "first": first.dt.date,
            "last": last.dt.date,
        }
    ).reset_index()
    summary["m"] = summary["m"].fillna(0.0)
    return summary


def fit_spend(summary: pd.DataFrame) -> dict[str, GammaGammaParams]:
    """Gamma–Gamma per currency (currencies with too few repeat customers get none)."""
    fitted = {}
    for currency, part in summary.groupby("currency"):
        try:
            fitted[str(currency)] = fit_gamma_gamma(part["x"].to_numpy(), part["m"].to_numpy())
        except FitError:
            continue
    return fitted


@dataclass
class ClvEvaluation:
    """A back-test: fit up to ``calibration_end``, compare with (calibration_end, holdout_end]."""

    calibration_end: date
    holdout_end: date
    params: BGNBDParams
    spend: dict[str, GammaGammaParams]
    customers: int
    predicted_total: float
    actual_total: int
    baseline_total: float
    mae: float
    rmse: float
    baseline_mae: float
    by_frequency: list[dict[str, Any]] = field(default_factory=list)
    spend_by_currency: list[dict[str, Any]] = field(default_factory=list)

    @property
    def holdout_days(self) -> int:
        return (self.holdout_end - self.calibration_end).days

    @property
    def total_error(self) -> float:
        """(predicted − actual) ÷ actual repeat transactions in the holdout, all customers."""
        return (self.predicted_total - self.actual_total) / max(self.actual_total, 1)

    def metrics(self) -> dict[str, float]:
        return {
            "holdout_predicted_transactions": self.predicted_total,
            "holdout_actual_transactions": float(self.actual_total),
            "holdout_total_error": self.total_error,
            "holdout_mae_per_customer": self.mae,
            "holdout_rmse_per_customer": self.rmse,
        }

    def baseline_metrics(self) -> dict[str, float]:
        return {
            "holdout_predicted_transactions": self.baseline_total,
            "holdout_actual_transactions": float(self.actual_total),
            "holdout_total_error": (self.baseline_total - self.actual_total)
            / max(self.actual_total, 1),
            "holdout_mae_per_customer": self.baseline_mae,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "holdout_days": self.holdout_days,
            "customers": self.customers,
            "bgnbd": self.params.as_dict(),
            "gamma_gamma": {c: p.as_dict() for c, p in sorted(self.spend.items())},
            "metrics": self.metrics(),
            "baseline_metrics": self.baseline_metrics(),
            "by_frequency": self.by_frequency,
            "spend_by_currency": self.spend_by_currency,
        }


def evaluate_clv(
    con: duckdb.DuckDBPyConnection, calibration_end: date, holdout_end: date | None = None
) -> ClvEvaluation:
    """Fit on transactions up to ``calibration_end`` and predict the holdout up to ``holdout_end``."""
    hwm = high_water_date(con)
    holdout_end = holdout_end or hwm
    if not calibration_end < holdout_end <= hwm:
        raise NoTransactionsError(
            f"--calibration-end {calibration_end} must be before the holdout end {holdout_end}, "
            f"itself at most the high-water date {hwm}; pick an earlier calibration end"
        )
    days = transaction_days(con, holdout_end)
    calibration = days[pd.to_datetime(days["paid_date"]) <= pd.Timestamp(calibration_end)]
    summary = summarize(calibration, calibration_end)
    if len(summary) < 10:
        raise NoTransactionsError(
            f"only {len(summary)} customers paid by {calibration_end}: pick a later calibration end"
        )
    params = fit_bgnbd(summary["x"], summary["t_x"], summary["T"])
    spend = fit_spend(summary)
    t = (holdout_end - calibration_end).days
    holdout = days[pd.to_datetime(days["paid_date"]) > pd.Timestamp(calibration_end)]
    actual = (
        holdout.groupby("customer_id").size().reindex(summary["customer_id"]).fillna(0).to_numpy()
    )
    predicted = expected_transactions(params, t, summary["x"], summary["t_x"], summary["T"])
    rate = np.where(summary["T"] > 0, summary["x"] / summary["T"].clip(lower=1), 0.0)
    baseline = rate * t
    bucket = np.minimum(summary["x"].to_numpy(), FREQUENCY_BUCKETS[-1])
    by_frequency = []
    for b in FREQUENCY_BUCKETS:
        mask = bucket == b
        by_frequency.append(
            {
                "calibration_repeat_transactions": f"{b}+"
                if b == FREQUENCY_BUCKETS[-1]
                else str(b),
                "customers": int(mask.sum()),
                "predicted_mean": float(predicted[mask].mean()) if mask.any() else None,
                "actual_mean": float(actual[mask].mean()) if mask.any() else None,
            }
        )
    spend_rows = []
    for currency, gg in sorted(spend.items()):
        part = summary[summary["currency"] == currency]
        repeaters = part[part["x"] > 0]
        spend_rows.append(
            {
                "currency": currency,
                **{k: round(v, 4) for k, v in gg.as_dict().items()},
                "repeat_customers": len(repeaters),
                "population_mean_value": gg.population_mean,
                "observed_mean_value": float(repeaters["m"].mean()) if len(repeaters) else None,
            }
        )
    return ClvEvaluation(
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        params=params,
        spend=spend,
        customers=len(summary),
        predicted_total=float(predicted.sum()),
        actual_total=int(actual.sum()),
        baseline_total=float(baseline.sum()),
        mae=float(np.abs(predicted - actual).mean()),
        rmse=float(np.sqrt(((predicted - actual) ** 2).mean())),
        baseline_mae=float(np.abs(baseline - actual).mean()),
        by_frequency=by_frequency,
        spend_by_currency=spend_rows,
    )


@dataclass
class ClvTraining:
    evaluation: ClvEvaluation
    params: BGNBDParams
    spend: dict[str, GammaGammaParams]
    fitted_until: date
    customers: int
    version: ModelVersion | None = None


def train_clv(con: duckdb.DuckDBPyConnection, *, holdout_days: int = HOLDOUT_DAYS) -> ClvTraining:
    """Back-test with the last ``holdout_days`` held out, then refit on everything for scoring."""
    hwm = high_water_date(con)
    evaluation = evaluate_clv(con, hwm - timedelta(days=holdout_days), hwm)
    summary = summarize(transaction_days(con, hwm), hwm)
    return ClvTraining(
        evaluation=evaluation,
        params=fit_bgnbd(summary["x"], summary["t_x"], summary["T"]),
        spend=fit_spend(summary),
        fitted_until=hwm,
        customers=len(summary),
    )


def save_clv(
    settings: Settings,
    training: ClvTraining,
    *,
    publication: dict[str, Any],
    now: datetime | None = None,
) -> ModelVersion:
    now = now or datetime.now(UTC)
    version = new_version_id(now)
    ev = training.evaluation
    run = EvaluationRun(
        model_version=version,
        trained_at=now,
        train_end=ev.calibration_end,
        holdout_start=ev.calibration_end + timedelta(days=1),
        holdout_end=ev.holdout_end,
    )
    evaluation = pa.concat_tables(
        [
            evaluation_rows(run, MODEL, ev.metrics(), n=ev.customers),
            evaluation_rows(
                run, BASELINE, ev.baseline_metrics(), n=ev.customers, role="baseline",
                compared_with=MODEL,
            ),
        ]
    )  # fmt: skip
    params = {
        "bgnbd": training.params.as_dict(),
        "gamma_gamma": {c: p.as_dict() for c, p in sorted(training.spend.items())},
        "fitted_until": training.fitted_until.isoformat(),
        "customers": training.customers,
        "time_unit": "day",
    }
    saved = save_version(
        settings,
        MODEL,
        version=version,
        files={PARAMS_FILE: json.dumps(params, indent=2).encode()},
        metadata={"publication": publication, "scoring": params, "backtest": ev.to_json()},
        evaluation=evaluation,
    )
    training.version = saved
    return saved


def load_clv(version: ModelVersion) -> tuple[BGNBDParams, dict[str, GammaGammaParams]]:
    raw = json.loads(version.file(PARAMS_FILE).read_text())
    spend = {c: GammaGammaParams(**p) for c, p in raw["gamma_gamma"].items()}
    return BGNBDParams(**raw["bgnbd"]), spend


def score_clv(
    con: duckdb.DuckDBPyConnection,
    params: BGNBDParams,
    spend: dict[str, GammaGammaParams],
    model_version: str,
    *,
    now: datetime,
) -> pa.Table:
    """Expected transactions, P(alive) and value per customer with a transaction, at the high-water date."""
    hwm = high_water_date(con)
    s = summarize(transaction_days(con, hwm), hwm)
    x, t_x, T = s["x"].to_numpy(), s["t_x"].to_numpy(), s["T"].to_numpy()
    e90 = expected_transactions(params, HORIZONS[0], x, t_x, T) if len(s) else np.empty(0)
    e365 = expected_transactions(params, HORIZONS[1], x, t_x, T) if len(s) else np.empty(0)
    avg = np.full(len(s), np.nan)
    for currency, gg in spend.items():
        mask = (s["currency"] == currency).to_numpy()
        if mask.any():
            avg[mask] = expected_average_value(gg, x[mask], s["m"].to_numpy()[mask])
    value = [None if np.isnan(v) else float(v) for v in avg]

    def times(e: np.ndarray) -> list[float | None]:
        return [None if v is None else float(v * k) for v, k in zip(value, e, strict=True)]

    return pa.table(
        {
            "customer_id": s["customer_id"].astype(str).tolist(),
            "currency": s["currency"].astype(str).tolist(),
            "transactions": (s["x"] + 1).astype("int64").tolist(),
            "first_transaction_date": s["first"].tolist(),
            "last_transaction_date": s["last"].tolist(),
            "probability_alive": probability_alive(params, x, t_x, T).astype(float)
            if len(s)
            else np.empty(0),
            "expected_transactions_90d": e90.astype(float),
            "expected_transactions_365d": e365.astype(float),
            "expected_average_value": value,
            "expected_value_90d": times(e90),
            "expected_value_365d": times(e365),
            "as_of_date": [hwm] * len(s),
            "scored_at": [now] * len(s),
            "model": [MODEL] * len(s),
            "model_version": [model_version] * len(s),
        },
        schema=CLV_SCHEMA,
    )


def clv_mart(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Derived-marts step: ``mart_customer_clv`` with the latest trained parameters (empty before)."""
    if not versions(settings, MODEL):
        return {MART: CLV_SCHEMA.empty_table()}
    version = latest_version(settings, MODEL)
    params, spend = load_clv(version)
    return {MART: score_clv(con, params, spend, version.version, now=datetime.now(UTC))}
