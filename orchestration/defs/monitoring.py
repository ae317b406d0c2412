"""Monitoring domain: ``run_failure_alert``, an alert for every failed run of the location.

The sensor fires for failed runs of any job in this code location (a run that
``petpro refresh`` found orphaned by a killed process included) and hands the job, run id,
partition and failure reason to :mod:`orchestration.alerts` (plain functions, no Dagster).
"""

from dagster import (
    DefaultSensorStatus,
    Definitions,
    RunFailureSensorContext,
    run_failure_sensor,
)

from orchestration.alerts import alert_record, send_alert
from orchestration.resources import PetProSettings
from orchestration.tags import PARTITION_KEY_TAG


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
def run_failure_alert(context: RunFailureSensorContext, petpro: PetProSettings) -> None:
    run = context.dagster_run
    record = alert_record(
        job=run.job_name,
        run_id=run.run_id,
        reason=failure_reason(context),
        partition=run.tags.get(PARTITION_KEY_TAG),
    )
    path, problem = send_alert(petpro.settings(), record)
    context.log.info(f"alert written to {path}" + (f" ({problem})" if problem else ""))


def definitions() -> Definitions:
    return Definitions(sensors=[run_failure_alert])
