"""Sensors: alert on every failed run, and (optionally) export reports after a nightly run.

``run_failure_alert`` fires for failed runs of any job in this code location and hands the
job, run id, partition and failure reason to :mod:`orchestration.alerts`. ``export_after_refresh``
requests an ``export_reports`` run after each successful ``nightly_refresh`` when
``PETPRO_EXPORT_AFTER_REFRESH=true`` or when that run carries the tag
``petpro/export_after=true`` (so it can be asked per run from the launchpad).
"""

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    JobDefinition,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    SensorDefinition,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from orchestration.alerts import alert_record, send_alert
from orchestration.tags import EXPORT_AFTER_TAG, truthy
from petpro.settings import get_settings


def failure_reason(context: RunFailureSensorContext) -> str:
    message = context.failure_event.message or ""
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        if data is not None and data.error is not None:
            first = (data.error.message or "").strip().splitlines()
            step = event.step_key or "step"
            return f"{step}: {first[0] if first else data.error.cls_name}"
    return message.strip().splitlines()[0] if message.strip() else "run failed"


@run_failure_sensor(
    name="run_failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description="Writes an alert record to $PETPRO_HOME/alerts/alerts.jsonl and POSTs it to "
    "PETPRO_ALERT_WEBHOOK_URL (if set) for every failed run.",
    minimum_interval_seconds=30,
)
def run_failure_alert(context: RunFailureSensorContext) -> None:
    run = context.dagster_run
    record = alert_record(
        job=run.job_name,
        run_id=run.run_id,
        reason=failure_reason(context),
        partition=run.tags.get("dagster/partition"),
    )
    path, problem = send_alert(get_settings(), record)
    context.log.info(f"alert written to {path}" + (f" ({problem})" if problem else ""))


def build_export_after_refresh_sensor(
    nightly: JobDefinition | UnresolvedAssetJobDefinition,
    export_job: JobDefinition | UnresolvedAssetJobDefinition,
) -> SensorDefinition:
    @run_status_sensor(
        name="export_after_refresh",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[nightly],
        request_job=export_job,
        default_status=DefaultSensorStatus.RUNNING,
        description="Runs export_reports right after a successful nightly_refresh when "
        "PETPRO_EXPORT_AFTER_REFRESH=true or the run has tag petpro/export_after=true.",
        minimum_interval_seconds=30,
    )
    def export_after_refresh(context: RunStatusSensorContext) -> RunRequest | SkipReason:
        run = context.dagster_run
        if not (get_settings().export_after_refresh or truthy(run.tags.get(EXPORT_AFTER_TAG))):
            return SkipReason(
                "export after refresh is off (PETPRO_EXPORT_AFTER_REFRESH / tag petpro/export_after)"
            )
        return RunRequest(run_key=f"export-after-{run.run_id}")

    return export_after_refresh
