"""Insights domain: ``metric_alerts`` — after each publication, the new metric anomalies become alerts.

Thin wiring of :func:`insights.alerts.raise_alerts` (no logic here): the anomalies and trends
themselves are computed inside the publication (``publish(..., derive=[derive_insight_marts])``
in ``published_warehouse``), so this asset only reads the current publication, writes one
JSON file per new alert under ``$PETPRO_HOME/alerts/`` and delivers it (webhook, e-mail).
A failing delivery is a warning in the run log and stays pending for the next run; it
never fails the run, since the publication is already done. The alerts of the run are in
the materialization's metadata.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from orchestration.defs.publication import PUBLISHED_KEY
from orchestration.resources import PetProSettings

METRIC_ALERTS_KEY = AssetKey("metric_alerts")


@asset(
    key=METRIC_ALERTS_KEY,
    deps=[PUBLISHED_KEY],
    group_name="insights",
    kinds={"python"},
    description=(
        "Alerts for the new anomalies of the published KPI series (mart_metric_anomalies, "
        "latest PETPRO_ALERT_LOOKBACK_DAYS days): one JSON file each under "
        "$PETPRO_HOME/alerts/, PETPRO_ALERT_WEBHOOK_URL and e-mail; never sent twice."
    ),
)
def metric_alerts(context: AssetExecutionContext, petpro: PetProSettings) -> MaterializeResult:
    from insights.alerts import raise_alerts

    run = raise_alerts(petpro.settings())
    for problem in run.problems:
        context.log.warning(problem)
    for record in run.created:
        context.log.info(record["message"])
    return MaterializeResult(
        metadata={
            "new_alerts": MetadataValue.int(len(run.created)),
            "alerts": MetadataValue.json(
                [
                    {"id": r["id"], "message": r["message"], "dashboard": r["dashboard_url"]}
                    for r in run.created
                ]
            ),
            "delivered": MetadataValue.json(run.delivered),
            "pending": MetadataValue.json(run.pending),
            "problems": MetadataValue.json(run.problems),
            "skipped": MetadataValue.text(run.skipped or ""),
        }
    )


def definitions() -> Definitions:
    """The insights domain: the alerts asset (in every refresh job, after the publication)."""
    return Definitions(assets=[metric_alerts])
