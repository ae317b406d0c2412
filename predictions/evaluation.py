"""The evaluation record every training run writes, and the ``mart_model_evaluation`` it feeds.

One row per model, version and metric (and per baseline, which is a model of its own name with
``role = 'baseline'``), so a reader can put every model beside its baselines and follow a
metric across versions. Each training run saves its rows with the model version
(:mod:`predictions.registry`); :func:`model_evaluation_mart` gathers the rows of every kept
version into the published mart as a derived-marts step of the publication.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from petpro.settings import Settings

if TYPE_CHECKING:
    import duckdb

MART = "mart_model_evaluation"

EVALUATION_SCHEMA = pa.schema(
    [
        pa.field("model", pa.string(), nullable=False),  # e.g. churn_gbm, churn_recency_baseline
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),  # 'model' or 'baseline'
        pa.field("compared_with", pa.string()),  # for a baseline: the model it is measured against
        pa.field("trained_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("train_end", pa.date32()),  # last day of data the model learned from
        pa.field("holdout_start", pa.date32()),  # evaluation window (time-based split)
        pa.field("holdout_end", pa.date32()),
        pa.field("metric", pa.string(), nullable=False),  # e.g. roc_auc, brier, ndcg_at_10
        pa.field("value", pa.float64()),
        pa.field("n", pa.int64()),  # examples (customers, snapshots, …) the metric is computed on
    ]
)


@dataclass(frozen=True)
class EvaluationRun:
    """The shared columns of one training run's evaluation rows."""

    model_version: str
    trained_at: datetime
    train_end: date | None
    holdout_start: date | None
    holdout_end: date | None


def evaluation_rows(
    run: EvaluationRun,
    model: str,
    metrics: Mapping[str, float | None],
    *,
    n: int | None,
    role: str = "model",
    compared_with: str | None = None,
) -> pa.Table:
    """Rows of :data:`EVALUATION_SCHEMA` for one model (or baseline) of a training run."""
    if role not in ("model", "baseline"):
        raise ValueError(f"role must be 'model' or 'baseline', not {role!r}")
    names = list(metrics)
    size = len(names)
    return pa.table(
        {
            "model": [model] * size,
            "model_version": [run.model_version] * size,
            "role": [role] * size,
            "compared_with": [compared_with] * size,
            "trained_at": [run.trained_at] * size,
            "train_end": [run.train_end] * size,
            "holdout_start": [run.holdout_start] * size,
            "holdout_end": [run.holdout_end] * size,
            "metric": names,
            "value": [None if metrics[m] is None else float(metrics[m]) for m in names],
            "n": [n] * size,
        },
        schema=EVALUATION_SCHEMA,
    )


def gather(tables: Iterable[pa.Table]) -> pa.Table:
    """One table of evaluation rows, in a stable order."""
    parts = [t.cast(EVALUATION_SCHEMA) for t in tables]
    if not parts:
        return EVALUATION_SCHEMA.empty_table()
    table = pa.concat_tables(parts)
    return table.sort_by(
        [("model", "ascending"), ("model_version", "ascending"), ("metric", "ascending")]
    )


def model_evaluation_mart(
    settings: Settings, con: duckdb.DuckDBPyConnection
) -> dict[str, pa.Table]:
    """Derived-marts step: every kept model version's evaluation rows as ``mart_model_evaluation``.

    Bind ``settings`` with ``functools.partial`` and pass it to ``publish(derive=[...])``.
    """
    from predictions.registry import versions

    root = settings.models_dir
    models = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    return {MART: gather(v.evaluation() for m in models for v in versions(settings, m))}
