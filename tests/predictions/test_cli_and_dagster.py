"""``petpro predict …`` on the real publication, and the Dagster ``predictions`` group."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta

from petpro.settings import get_settings


def run_cli(home, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PETPRO_HOME=str(home), COLUMNS="160")
    return subprocess.run([sys.executable, "-m", "cli", "predict", *args], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_evaluate_prints_parameters_and_holdout_figures(predicted) -> None:
    ev = predicted.training.clv.evaluation
    end = ev.holdout_end - timedelta(days=120)
    proc = run_cli(predicted.settings.home, "evaluate", "--calibration-end", end.isoformat())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("BG/NBD parameters", "Gamma-Gamma parameters per currency", "predicted, total",
                 "actual, total", "error of the total", "mean absolute error per customer",
                 f"calibration up to {end}", "the 120 days after it"):  # fmt: skip
        assert text in out, (text, out)
    bad = run_cli(predicted.settings.home, "evaluate", "--calibration-end", "2026-13-01")
    assert bad.returncode == 1 and "is not a date" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    late = run_cli(predicted.settings.home, "evaluate", "--calibration-end", "2030-01-01")
    assert late.returncode == 1 and "pick an earlier calibration end" in late.stderr


def test_models_lists_the_saved_versions(predicted) -> None:
    proc = run_cli(predicted.settings.home, "models")
    assert proc.returncode == 0, proc.stderr
    assert predicted.training.churn.version.version in proc.stdout
    assert "churn_recency_baseline" in proc.stdout and "clv_bgnbd" in proc.stdout


def test_dagster_trains_the_predictions_group(predicted, tmp_path, monkeypatch) -> None:
    from dagster import materialize

    from orchestration.defs.predictions import customer_models
    from orchestration.location import build_definitions
    from orchestration.resources import PetProSettings
    from predictions.registry import versions

    home = tmp_path / "home"
    shutil.copytree(predicted.settings.home, home, symlinks=True)
    monkeypatch.setenv("PETPRO_HOME", str(home))
    before = len(versions(get_settings(), "churn_gbm"))
    result = materialize([customer_models], resources={"petpro": PetProSettings()})
    assert result.success
    meta = result.asset_materializations_for_node("customer_models")[0].metadata
    assert meta["churn_metrics"].value["roc_auc"] > meta["churn_baseline_metrics"].value["roc_auc"]
    assert len(versions(get_settings(), "churn_gbm")) == before + 1
    defs = build_definitions(get_settings())
    schedule = defs.get_schedule_def("train_customer_models_schedule")
    assert schedule.cron_schedule == "0 4 * * 0"


def test_refresh_jobs_do_not_train() -> None:
    from orchestration.location import build_definitions

    repo = build_definitions(get_settings()).get_repository_def()
    for job in ("nightly_refresh", "full_rebuild", "backfill_activities"):
        keys = {k.to_user_string() for k in repo.get_job(job).asset_layer.selected_asset_keys}
        assert "published_warehouse" in keys, job
        assert not keys & {"customer_models", "service_recommender"}, job
    train = repo.get_job("train_customer_models").asset_layer.selected_asset_keys
    assert {k.to_user_string() for k in train} == {"customer_models", "service_recommender"}
