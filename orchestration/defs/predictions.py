"""Predictions domain: the customer models and the service recommender, trained weekly.

``customer_models`` trains churn risk and lifetime value (:func:`predictions.train.
train_models`) and ``service_recommender`` the service recommender (:func:`predictions.
recommend_train.train_recommender`), each on the current publication (never ``build.duckdb``),
saving a new version under ``$PETPRO_HOME/models/`` whose metadata carries the holdout
figures. Both belong to group ``predictions``, materialized by the job
``train_customer_models`` on Sundays at 04:00 in ``PETPRO_TIMEZONE`` and kept out of the
refresh jobs (training is the expensive part). Scoring is nightly: every publication runs the
derived-marts steps of :func:`predictions.steps.derived_steps`, which score every customer
with the latest versions. Thin wiring: all the work is in ``predictions/``.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from orchestration.defs.publication import PUBLISHED_KEY
from orchestration.resources import PetProSettings
from petpro.settings import Settings

GROUP = "predictions"
MODELS_KEY = AssetKey("customer_models")
RECOMMENDER_KEY = AssetKey("service_recommender")
TRAIN_JOB = "train_customer_models"


@asset(
    key=MODELS_KEY,
    deps=[PUBLISHED_KEY],
    group_name=GROUP,
    kinds={"scikit-learn", "scipy"},
    description="Churn risk (gradient boosting, vs a recency baseline) and lifetime value "
    "(BG/NBD + Gamma-Gamma) trained on the current publication; versions under "
    "$PETPRO_HOME/models/. The nightly publication scores every customer with the latest.",
)
def customer_models(context: AssetExecutionContext, petpro: PetProSettings) -> MaterializeResult:
    from predictions.train import train_models

    run = train_models(petpro.settings())
    churn, clv = run.churn, run.clv.evaluation
    context.log.info(
        "churn ROC AUC %.4f (recency baseline %.4f); CLV holdout total error %+.1f%%",
        churn.metrics["roc_auc"],
        churn.baseline_metrics["roc_auc"],
        100 * clv.total_error,
    )
    return MaterializeResult(
        metadata={
            "publication": MetadataValue.text(str(run.publication["version"])),
            "churn_version": MetadataValue.text(churn.version.version if churn.version else ""),
            "clv_version": MetadataValue.text(run.clv.version.version if run.clv.version else ""),
            "churn_metrics": MetadataValue.json(churn.metrics),
            "churn_baseline_metrics": MetadataValue.json(churn.baseline_metrics),
            "clv_backtest": MetadataValue.json(clv.metrics()),
        }
    )


@asset(
    key=RECOMMENDER_KEY,
    deps=[PUBLISHED_KEY],
    group_name=GROUP,
    kinds={"python"},
    description="A new version of the service recommender under "
    "$PETPRO_HOME/models/service_recommender/, trained on the current publication and chosen "
    "by a time-split evaluation (hit rate@5, recall@10, NDCG@10 vs. popularity baselines). "
    "The next publication scores every active customer with it "
    "(mart_service_recommendations).",
)
def service_recommender(
    context: AssetExecutionContext, petpro: PetProSettings
) -> MaterializeResult:
    from predictions.recommend_train import train_recommender

    result = train_recommender(petpro.settings())
    ev = result.evaluation
    table = "\n".join(
        ["| model | role | hit@5 | recall@10 | NDCG@10 | coverage |", "|---|---|---|---|---|---|"]
        + [
            f"| {n} | {r} | {h:.3f} | {c:.3f} | {g:.3f} | {v:.3f} |"
            for n, r, h, c, g, v in ev.table()
        ]
    )
    context.log.info(f"service_recommender {result.version.version}: {ev.chosen} chosen")
    return MaterializeResult(
        metadata={
            "version": MetadataValue.text(result.version.version),
            "candidate": MetadataValue.text(ev.chosen),
            "ndcg_at_10": MetadataValue.float(ev.test["service_recommender"]["ndcg_at_10"]),
            "test_customers": MetadataValue.int(ev.test_customers),
            "evaluation": MetadataValue.md(table),
            "path": MetadataValue.path(str(result.version.path)),
            "seconds": MetadataValue.float(round(result.seconds, 2)),
        }
    )


def definitions(settings: Settings) -> Definitions:
    """The group's assets, their training job and the weekly schedule."""
    job = define_asset_job(
        TRAIN_JOB,
        selection=AssetSelection.groups(GROUP),
        description="Train the customer models and the service recommender on the current "
        "publication.",
    )
    schedule = ScheduleDefinition(
        name="train_customer_models_schedule",
        cron_schedule="0 4 * * 0",
        execution_timezone=settings.timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Sundays 04:00 {settings.timezone}: retrain churn risk, lifetime value and "
        "the service recommender on the current publication (the nightly publication scores "
        "with the latest).",
    )
    return Definitions(
        assets=[customer_models, service_recommender], jobs=[job], schedules=[schedule]
    )
