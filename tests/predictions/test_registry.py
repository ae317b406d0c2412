"""Model versions are saved whole and their evaluation rows reach the publication."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from petpro.settings import get_settings
from predictions.evaluation import EvaluationRun, evaluation_rows, model_evaluation_mart
from predictions.registry import (
    ModelNotTrainedError,
    latest_version,
    prune_versions,
    save_version,
    versions,
)
from warehouse.publish import publish


def _run(version: str) -> EvaluationRun:
    return EvaluationRun(
        model_version=version,
        trained_at=datetime(2026, 1, 2, tzinfo=UTC),
        train_end=date(2025, 12, 1),
        holdout_start=date(2025, 12, 2),
        holdout_end=date(2025, 12, 31),
    )


def test_versions_are_saved_whole_and_the_latest_wins(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path)
    with pytest.raises(ModelNotTrainedError):
        latest_version(settings, "churn")
    for v in ("20260101T000000Z-aaaaaa", "20260102T000000Z-bbbbbb"):
        save_version(
            settings,
            "churn",
            version=v,
            files={"model.bin": v.encode()},
            metadata={"publication": "run-1"},
            evaluation=evaluation_rows(_run(v), "churn", {"roc_auc": 0.8}, n=10),
        )
    (settings.models_dir / "churn" / ".20260103T000000Z-cccccc.tmp").mkdir()  # a crashed save
    latest = latest_version(settings, "churn")
    assert latest.version == "20260102T000000Z-bbbbbb"
    assert latest.file("model.bin").read_bytes() == b"20260102T000000Z-bbbbbb"
    assert latest.metadata["publication"] == "run-1"
    assert sorted(prune_versions(settings, "churn", keep=1)) == [
        ".20260103T000000Z-cccccc.tmp",
        "20260101T000000Z-aaaaaa",
    ]
    assert [v.version for v in versions(settings, "churn")] == ["20260102T000000Z-bbbbbb"]


def test_evaluation_rows_of_every_model_are_published(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path)
    run = _run("v1")
    save_version(
        settings,
        "churn_gbm",
        version="v1",
        files={},
        metadata={},
        evaluation=evaluation_rows(run, "churn_gbm", {"roc_auc": 0.81, "brier": 0.12}, n=500),
    )
    save_version(
        settings,
        "churn_recency_baseline",
        version="v1",
        files={},
        metadata={},
        evaluation=evaluation_rows(
            run, "churn_recency_baseline", {"roc_auc": 0.7}, n=500, role="baseline",
            compared_with="churn_gbm",
        ),
    )  # fmt: skip
    settings.warehouse_dir.mkdir(parents=True)
    with duckdb.connect(str(settings.build_db)) as con:
        con.execute("create table mart_x as select 1 as x")
    publish(settings, derive=[functools.partial(model_evaluation_mart, settings)])
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        rows = con.execute(
            "select model, role, compared_with, metric, value, n from mart_model_evaluation "
            "order by model, metric"
        ).fetchall()
    assert rows == [
        ("churn_gbm", "model", None, "brier", 0.12, 500),
        ("churn_gbm", "model", None, "roc_auc", 0.81, 500),
        ("churn_recency_baseline", "baseline", "churn_gbm", "roc_auc", 0.7, 500),
    ]
