"""The ``predictions`` asset group: customer models trained weekly on the publication.

``customer_models`` trains churn risk and lifetime value on the current publication
(:func:`predictions.train.train_models`, no Dagster inside) and saves a new version of each
under ``$PETPRO_HOME/models/``; its metadata carries the versions and holdout figures. It is
materialized by the job ``train_customer_models``, scheduled weekly (Sunday 04:00 in
``PETPRO_TIMEZONE``), and is kept out of the refresh jobs. Scoring is nightly: every
publication of ``published_warehouse`` runs the derived-marts steps of
:func:`predictions.steps.derived_steps`, which score every customer with the latest versions
(``mart_customer_churn_risk``, ``mart_customer_clv``) and publish ``mart_model_evaluation``.
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

from petpro.settings import Settings, get_settings

GROUP = "predictions"
MODELS_KEY = AssetKey("customer_models")
TRAIN_JOB = "train_customer_models"


@asset(
    key=MODELS_KEY,
    deps=[AssetKey("published_warehouse")],
    group_name=GROUP,
    kinds={"scikit-learn", "scipy"},
    description="Churn risk (gradient boosting, vs a recency baseline) and lifetime value "
    "(BG/NBD + Gamma-Gamma) trained on the current publication; versions under "
    "$PETPRO_HOME/models/. The nightly publication scores every customer with the latest.",
)
def customer_models(context: AssetExecutionContext) -> MaterializeResult:
    from predictions.train import train_models

    run = train_models(get_settings())
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


def build_prediction_definitions(settings: Settings) -> Definitions:
    """The group's asset, its training job and the weekly schedule (merged into the location)."""
    job = define_asset_job(
        TRAIN_JOB,
        selection=AssetSelection.groups(GROUP),
        description="Train the customer models on the current publication.",
    )
    schedule = ScheduleDefinition(
        name="train_customer_models_schedule",
        cron_schedule="0 4 * * 0",
        execution_timezone=settings.timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"Sundays 04:00 {settings.timezone}: retrain churn risk and lifetime value "
        "on the current publication (the nightly publication scores with the latest).",
    )
    return Definitions(assets=[customer_models], jobs=[job], schedules=[schedule])
