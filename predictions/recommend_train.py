"""Training the service recommender: a time-based evaluation, the choice of model, a version.

``train_recommender(settings)`` reads the current publication (never ``build.duckdb``) and
runs the evaluation of :func:`evaluate`:

- *selection* — every candidate (:data:`~predictions.recommend_model.CANDIDATES`) learns from
  the bookings up to 60 days before the high-water date and is scored on the 30 days after
  that; the best NDCG@10 wins (the test window is never used to choose);
- *test* — the candidates and both baselines learn from the bookings up to the cut date (30
  days before the high-water date) and are measured on the next 30 days: hit rate@5,
  recall@10, NDCG@10 over the customers who booked in that window, and catalogue coverage;
- *production* — the chosen candidate learns from every booking and is saved as a new version
  of ``service_recommender`` (:mod:`predictions.registry`) with its evaluation rows, which
  ``mart_model_evaluation`` publishes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from petpro.publication import open_current
from petpro.settings import Settings
from predictions import recommend_model as rm
from predictions.evaluation import EvaluationRun, evaluation_rows, gather
from predictions.recommend_data import EPOCH, RecommendData, read_data
from predictions.registry import ModelVersion, new_version_id, prune_versions, save_version

MODEL = "service_recommender"
MODEL_FILE = "model.npz"
ITEMS_FILE = "services.json"
TEST_DAYS = 30
BASELINE_MODELS = {
    "popularity": "service_popularity_baseline",
    "last_category_popularity": "service_last_category_baseline",
    "nearby_popularity": "service_nearby_popularity_baseline",
}
KEEP_VERSIONS = 5


def _date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass
class Evaluation:
    """The figures of one evaluation (see the module docstring)."""

    cut_day: int
    validation_cut_day: int
    chosen: str
    validation: dict[str, dict[str, float]]
    test: dict[str, dict[str, float]]  # candidates, baselines and MODEL (= chosen + rules)
    test_customers: int
    test_cold_start: int
    repeat_shares: dict[str, float]
    repeat_categories: list[str]
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> list[tuple[str, str, float, float, float, float]]:
        """(name, role, hit@5, recall@10, ndcg@10, coverage) rows, model first."""
        out = []
        for name, m in self.test.items():
            role = "baseline" if name in rm.BASELINES else "model"
            out.append((name, role, m["hit_rate_at_5"], m["recall_at_10"], m["ndcg_at_10"],
                        m["catalogue_coverage"]))  # fmt: skip
        return out


def _score_candidate(
    name: str, data: RecommendData, ctx: rm.Context, rows: np.ndarray, truth: np.ndarray
) -> dict[str, float]:
    model = rm.fit(name, ctx.matrix)
    ranking = rm.rank_with_model(model, np.arange(data.catalogue.size), ctx, rows)
    return rm.metrics(ranking, truth, data.catalogue.size, int(data.catalogue.bookable.sum()))


def evaluate(data: RecommendData, candidates: tuple[str, ...] = rm.CANDIDATES) -> Evaluation:
    """Choose a candidate on the validation window and measure everything on the test window."""
    b = data.bookings
    hwm = data.high_water_day
    cut = hwm - TEST_DAYS
    val_cut = cut - TEST_DAYS
    n_s, n_bookable = data.catalogue.size, int(data.catalogue.bookable.sum())
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    ctx_v = rm.build_context(data, b.take(b.day <= val_cut), val_cut)
    v_rows, v_truth = rm.truth_keys(data, b.take((b.day > val_cut) & (b.day <= cut)))
    validation = {c: _score_candidate(c, data, ctx_v, v_rows, v_truth) for c in candidates}
    chosen = max(candidates, key=lambda c: (validation[c]["ndcg_at_10"], -candidates.index(c)))
    seconds["selection"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ctx = rm.build_context(data, b.take(b.day <= cut), cut)
    rows, truth = rm.truth_keys(data, b.take((b.day > cut) & (b.day <= cut + TEST_DAYS)))
    test: dict[str, dict[str, float]] = {}
    for c in candidates:
        test[c] = _score_candidate(c, data, ctx, rows, truth)
    test[MODEL] = dict(test[chosen])
    for name in rm.BASELINES:
        test[name] = rm.metrics(rm.rank_baseline(name, ctx, rows), truth, n_s, n_bookable)
    seconds["test"] = time.perf_counter() - t0
    cold = int((np.diff(ctx.matrix.indptr)[rows] == 0).sum())
    return Evaluation(
        cut_day=cut, validation_cut_day=val_cut, chosen=chosen, validation=validation,
        test=test, test_customers=int(rows.size), test_cold_start=cold,
        repeat_shares=ctx.repeat, repeat_categories=sorted(ctx.repeat_categories),
        seconds=seconds,
    )  # fmt: skip


def evaluation_table(ev: Evaluation, version: str, trained_at: datetime) -> Any:
    """The evaluation rows of a training run (``mart_model_evaluation``)."""
    run = EvaluationRun(
        model_version=version,
        trained_at=trained_at,
        train_end=_date(ev.cut_day),
        holdout_start=_date(ev.cut_day + 1),
        holdout_end=_date(ev.cut_day + TEST_DAYS),
    )
    n = ev.test_customers
    parts = [evaluation_rows(run, MODEL, ev.test[MODEL], n=n)]
    for c, m in ev.validation.items():
        figures = {**ev.test[c], "validation_ndcg_at_10": m["ndcg_at_10"],
                   "chosen": 1.0 if c == ev.chosen else 0.0}  # fmt: skip
        parts.append(evaluation_rows(run, f"{MODEL}_{c}", figures, n=n))
    for name, model in BASELINE_MODELS.items():
        parts.append(
            evaluation_rows(run, model, ev.test[name], n=n, role="baseline", compared_with=MODEL)
        )
    return gather(parts)


@dataclass
class TrainResult:
    """A saved version and the evaluation behind it."""

    version: ModelVersion
    evaluation: Evaluation
    seconds: float


def train_on(
    settings: Settings,
    data: RecommendData,
    *,
    publication: dict[str, Any] | None = None,
    candidates: tuple[str, ...] = rm.CANDIDATES,
) -> TrainResult:
    """Evaluate, choose, fit the chosen candidate on every booking and save a version."""
    started = time.perf_counter()
    ev = evaluate(data, candidates)
    t0 = time.perf_counter()
    ctx = rm.build_context(data, data.bookings, data.high_water_day)
    model = rm.fit(ev.chosen, ctx.matrix)
    ev.seconds["final_fit"] = time.perf_counter() - t0
    trained_at = datetime.now(UTC)
    version = new_version_id(trained_at)
    metadata = {
        "candidate": ev.chosen,
        "candidates": list(candidates),
        "publication": publication or {},
        "high_water_date": data.high_water_date.isoformat(),
        "train_end": data.high_water_date.isoformat(),
        "evaluation_cut": _date(ev.cut_day).isoformat(),
        "validation_cut": _date(ev.validation_cut_day).isoformat(),
        "customers": data.customers.size,
        "services": data.catalogue.size,
        "bookings": data.bookings.size,
        "test_customers": ev.test_customers,
        "test_cold_start": ev.test_cold_start,
        "repeat_shares": ev.repeat_shares,
        "repeat_categories": ev.repeat_categories,
        "validation": ev.validation,
        "test": ev.test,
        "parameters": {
            "half_life_days": rm.HALF_LIFE_DAYS,
            "popular_days": rm.POPULAR_DAYS,
            "recent_days": rm.RECENT_DAYS,
            "repeat_share": rm.REPEAT_SHARE,
            "top_k": rm.TOP_K,
        },
        "seconds": ev.seconds,
    }
    saved = save_version(
        settings,
        MODEL,
        version=version,
        files={
            MODEL_FILE: rm.save_model(model),
            ITEMS_FILE: json.dumps([str(s) for s in data.catalogue.ids]).encode(),
        },
        metadata=metadata,
        evaluation=evaluation_table(ev, version, trained_at),
    )
    prune_versions(settings, MODEL, keep=KEEP_VERSIONS)
    return TrainResult(saved, ev, time.perf_counter() - started)


def train_recommender(settings: Settings) -> TrainResult:
    """Train a new version from the current publication (see the module docstring)."""
    with open_current(settings.published_dir) as pub:
        data = read_data(pub.con)
        record = {"run_id": pub.record.run_id, "version": pub.record.version}
    return train_on(settings, data, publication=record)
