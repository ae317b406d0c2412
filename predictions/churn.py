"""Churn risk: training on dated snapshots, evaluation on a later held-out one, nightly scoring.

*Churn* of an active customer at snapshot S (:mod:`predictions.churn_features`): no engaged
activity in the 60 days from S. The data are monthly snapshots of the current publication;
the split is by time: the holdout snapshot is the latest one whose 60-day outcome is fully
observed (high-water date + 1 − 60 days), and the training snapshots are every
``SNAPSHOT_STEP_DAYS`` before it whose outcome window ends on or before the holdout snapshot,
so no training label looks at a day the holdout features could see. The model is a
scikit-learn ``HistGradientBoostingClassifier`` (log loss): recency, frequency and trend
interact non-linearly (a quiet week means little for a customer who books twice a year and a
lot for a daily one), trees need no scaling of day counts and money, it handles missing values
(never paid, never engaged) natively, and it trains in seconds on two cores. It is compared
with a recency-only baseline (logistic regression on log recency) on the holdout snapshot:
ROC AUC, PR AUC, Brier score, log loss and a ten-bin calibration table. The version that was
evaluated is the version that scores (no refit on the holdout), so the published figures
describe the published scores.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from petpro.errors import PetProError
from petpro.settings import Settings
from predictions.churn_features import (
    ACTIVE_WINDOW_DAYS,
    CATEGORICAL,
    HORIZON_DAYS,
    build_features,
    labelled,
)
from predictions.evaluation import EvaluationRun, evaluation_rows
from predictions.history import high_water_date
from predictions.registry import ModelVersion, latest_version, save_version, versions

MODEL = "churn_gbm"
BASELINE = "churn_recency_baseline"
MART = "mart_customer_churn_risk"
MODEL_FILE = "model.pkl"
CALIBRATION_BINS = 10
SNAPSHOT_STEP_DAYS = 30
MAX_TRAINING_SNAPSHOTS = 8
MIN_TRAINING_ROWS = 200
# Risk bands on the churn probability: low < 0.3 <= medium < 0.6 <= high.
BANDS: tuple[tuple[float, str], ...] = ((0.6, "high"), (0.3, "medium"), (0.0, "low"))

CHURN_RISK_SCHEMA = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),  # the customer's UUID
        pa.field("churn_probability", pa.float64(), nullable=False),  # P(churn in 60 days)
        pa.field("risk_band", pa.string(), nullable=False),  # low / medium / high (BANDS)
        pa.field("as_of_date", pa.date32(), nullable=False),  # features use days up to this one
        pa.field("scored_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("model", pa.string(), nullable=False),  # churn_gbm
        pa.field("model_version", pa.string(), nullable=False),  # folder under models/churn_gbm/
    ]
)


class NotEnoughHistoryError(PetProError):
    """The publication is too short for a time-based split."""


@dataclass
class ChurnModel:
    """The fitted classifier with the exact feature columns and category codes it expects."""

    classifier: HistGradientBoostingClassifier
    features: list[str]
    categories: dict[str, list[str]]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        columns = []
        for name in self.features:
            if name in self.categories:
                codes = {v: i for i, v in enumerate(self.categories[name])}
                columns.append(frame[name].map(codes).astype(float).to_numpy())
            elif name in frame:
                columns.append(frame[name].astype(float).to_numpy())
            else:  # e.g. a currency that did not exist when the model was trained
                columns.append(np.zeros(len(frame)))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with threadpool_limits(limits=1):
            return self.classifier.predict_proba(self.matrix(frame))[:, 1]


def risk_band(probability: float) -> str:
    return next(name for floor, name in BANDS if probability >= floor)


def snapshot_plan(hwm: date) -> tuple[list[date], date]:
    """Training snapshots (oldest first) and the holdout snapshot for data up to ``hwm``."""
    holdout = hwm + timedelta(days=1) - timedelta(days=HORIZON_DAYS)
    train = [
        holdout - timedelta(days=HORIZON_DAYS + k * SNAPSHOT_STEP_DAYS)
        for k in range(MAX_TRAINING_SNAPSHOTS)
    ]
    return sorted(train), holdout


def fit_churn_model(train: pd.DataFrame, *, seed: int = 0) -> ChurnModel:
    categories = {c: sorted(train[c].dropna().astype(str).unique()) for c in CATEGORICAL}
    skip = {"customer_id", "snapshot_date", "churned", "signup_date"}
    features = [c for c in train.columns if c not in skip]
    model = ChurnModel(HistGradientBoostingClassifier(), features, categories)
    model.classifier = HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        categorical_features=[f in categories for f in features],
        random_state=seed,
    )
    # One OpenMP thread: on a shared 2-core machine OpenMP's spinning workers collapse when
    # other processes hold the cores (measured 8 s single-threaded vs 70 s by default at load
    # average 8, demo-size data), and the result no longer depends on the thread count.
    with threadpool_limits(limits=1):
        model.classifier.fit(model.matrix(train), train["churned"].to_numpy())
    return model


def _recency(frame: pd.DataFrame) -> np.ndarray:
    return np.log1p(frame["recency_days"].astype(float).to_numpy()).reshape(-1, 1)


def fit_baseline(train: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression().fit(_recency(train), train["churned"].to_numpy())


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Ten equal-width probability bins: customers, mean predicted and observed churn rate."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for k in range(bins):
        mask = index == k
        rows.append(
            {
                "bin": f"{edges[k]:.1f}-{edges[k + 1]:.1f}",
                "customers": int(mask.sum()),
                "mean_predicted": float(p[mask].mean()) if mask.any() else None,
                "observed_rate": float(y[mask].mean()) if mask.any() else None,
            }
        )
    return rows


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    table = calibration_table(y, p)
    ece = sum(
        r["customers"] * abs(r["mean_predicted"] - r["observed_rate"])
        for r in table
        if r["customers"]
    ) / max(len(y), 1)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))),
        "expected_calibration_error": float(ece),
        "base_rate": float(np.mean(y)),
    }


@dataclass
class ChurnTraining:
    """What one training run produced (before or after saving)."""

    model: ChurnModel
    baseline: LogisticRegression
    train_snapshots: list[date]
    holdout_snapshot: date
    n_train: int
    n_holdout: int
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    calibration: list[dict]
    baseline_calibration: list[dict]
    customer_ids: frozenset[str] = frozenset()  # every customer of the training and holdout rows
    version: ModelVersion | None = None


def train_churn(con: duckdb.DuckDBPyConnection, *, seed: int = 0) -> ChurnTraining:
    """Fit on the training snapshots of the publication ``con`` and evaluate on the holdout."""
    hwm = high_water_date(con)
    first = con.execute("select min(signup_date) from main.mart_customer_profile").fetchone()[0]
    train_dates, holdout = snapshot_plan(hwm)
    # A snapshot needs a full activity window behind it to define "active".
    train_dates = [
        d for d in train_dates if first and d - timedelta(days=ACTIVE_WINDOW_DAYS) >= first
    ]
    frames = [labelled(con, d) for d in train_dates]
    frames = [f for f in frames if len(f)]
    train = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(train) < MIN_TRAINING_ROWS or train["churned"].nunique() < 2:
        raise NotEnoughHistoryError(
            f"only {len(train)} labelled customer snapshots before {holdout}: churn training needs "
            f"at least {MIN_TRAINING_ROWS} with both outcomes (about {ACTIVE_WINDOW_DAYS + 2 * HORIZON_DAYS}"
            " days of history); seed a longer history or wait for more data"
        )
    test = labelled(con, holdout)
    if len(test) == 0 or test["churned"].nunique() < 2:
        raise NotEnoughHistoryError(
            f"the holdout snapshot {holdout} has no customers with both outcomes to evaluate on"
        )
    model = fit_churn_model(train, seed=seed)
    baseline = fit_baseline(train)
    y = test["churned"].to_numpy()
    p = model.predict(test)
    pb = baseline.predict_proba(_recency(test))[:, 1]
    return ChurnTraining(
        model=model,
        baseline=baseline,
        train_snapshots=sorted({d for d in train["snapshot_date"]}),
        holdout_snapshot=holdout,
        n_train=len(train),
        n_holdout=len(test),
        metrics=classification_metrics(y, p),
        baseline_metrics=classification_metrics(y, pb),
        calibration=calibration_table(y, p),
        baseline_calibration=calibration_table(y, pb),
        customer_ids=frozenset(train["customer_id"]) | frozenset(test["customer_id"]),
    )


def save_churn(
    settings: Settings,
    training: ChurnTraining,
    *,
    publication: dict[str, Any],
    now: datetime | None = None,
) -> ModelVersion:
    """Save the trained model as a new version of ``churn_gbm`` with its evaluation rows."""
    from predictions.registry import new_version_id

    now = now or datetime.now(UTC)
    version = new_version_id(now)
    run = EvaluationRun(
        model_version=version,
        trained_at=now,
        train_end=training.holdout_snapshot - timedelta(days=1),
        holdout_start=training.holdout_snapshot,
        holdout_end=training.holdout_snapshot + timedelta(days=HORIZON_DAYS - 1),
    )
    evaluation = pa.concat_tables(
        [
            evaluation_rows(run, MODEL, training.metrics, n=training.n_holdout),
            evaluation_rows(
                run,
                BASELINE,
                training.baseline_metrics,
                n=training.n_holdout,
                role="baseline",
                compared_with=MODEL,
            ),
        ]
    )
    buffer = io.BytesIO()
    pickle.dump(training.model, buffer)
    saved = save_version(
        settings,
        MODEL,
        version=version,
        files={MODEL_FILE: buffer.getvalue()},
        metadata={
            "publication": publication,
            "definition": f"no engaged activity in the {HORIZON_DAYS} days from the snapshot; "
            f"population: customers active in the {ACTIVE_WINDOW_DAYS} days before it",
            "train_snapshots": [d.isoformat() for d in training.train_snapshots],
            "holdout_snapshot": training.holdout_snapshot.isoformat(),
            "n_train": training.n_train,
            "n_holdout": training.n_holdout,
            "features": training.model.features,
            "categories": training.model.categories,
            "parameters": training.model.classifier.get_params(),
            "metrics": training.metrics,
            "baseline_metrics": training.baseline_metrics,
            "calibration": training.calibration,
            "baseline_calibration": training.baseline_calibration,
        },
        evaluation=evaluation,
    )
    training.version = saved
    return saved


def load_churn(version: ModelVersion) -> ChurnModel:
    # Our own file, written by save_churn into the private models folder.
    return pickle.loads(version.file(MODEL_FILE).read_bytes())


def score_churn(
    con: duckdb.DuckDBPyConnection, model: ChurnModel, model_version: str, *, now: datetime
) -> pa.Table:
    """Churn risk of every customer active at the high-water date of the publication ``con``."""
    hwm = high_water_date(con)
    frame = build_features(con, hwm + timedelta(days=1))
    probability = model.predict(frame) if len(frame) else np.empty(0)
    return pa.table(
        {
            "customer_id": frame["customer_id"].astype(str).tolist(),
            "churn_probability": probability.astype(float),
            "risk_band": [risk_band(float(p)) for p in probability],
            "as_of_date": [hwm] * len(frame),
            "scored_at": [now] * len(frame),
            "model": [MODEL] * len(frame),
            "model_version": [model_version] * len(frame),
        },
        schema=CHURN_RISK_SCHEMA,
    )


def churn_risk_mart(settings: Settings, con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """Derived-marts step: ``mart_customer_churn_risk`` with the latest trained version.

    Before any training the mart is published empty (with its schema), so readers can rely
    on it existing; the first ``petpro predict train`` fills it from the next publication on.
    """
    if not versions(settings, MODEL):
        return {MART: CHURN_RISK_SCHEMA.empty_table()}
    version = latest_version(settings, MODEL)
    return {MART: score_churn(con, load_churn(version), version.version, now=datetime.now(UTC))}
