"""Schedules, in the business time zone.

``nightly_refresh_schedule`` runs at 02:00 ``PETPRO_TIMEZONE`` on the previous business day's
activity partition (dbt re-processes ``late_days`` days before it for late events);
``export_reports_schedule`` at 03:00; ``published_freshness_schedule`` evaluates the
freshness check every hour. The nightly and export schedules are on by default. The
evaluation functions are pure enough to test with ``build_schedule_context``.
"""

from dagster import (
    DefaultScheduleStatus,
    JobDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    schedule,
)
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition,
)

from orchestration.partitions import previous_day
from orchestration.tags import MODE_INCREMENTAL, MODE_TAG
from petpro.settings import Settings

AnyJob = JobDefinition | UnresolvedAssetJobDefinition


def build_nightly_schedule(settings: Settings, job: AnyJob) -> ScheduleDefinition:
    tz = settings.timezone

    @schedule(
        name="nightly_refresh_schedule",
        cron_schedule="0 2 * * *",
        execution_timezone=tz,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"02:00 {tz}: incremental ingestion, checks, dbt and publication of the "
        "previous day's partition (with the late-event look-back).",
    )
    def nightly_refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest:
        day = previous_day(context.scheduled_execution_time, tz)
        key = day.isoformat()
        return RunRequest(
            run_key=f"nightly-{key}",
            partition_key=key,
            tags={MODE_TAG: MODE_INCREMENTAL},
        )

    return nightly_refresh_schedule


def build_export_schedule(settings: Settings, job: AnyJob) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="export_reports_schedule",
        cron_schedule="0 3 * * *",
        execution_timezone=settings.timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"03:00 {settings.timezone}: report files from the published marts.",
    )


def build_freshness_schedule(settings: Settings, job: AnyJob) -> ScheduleDefinition:
    return ScheduleDefinition(
        name="published_freshness_schedule",
        cron_schedule="17 * * * *",
        execution_timezone=settings.timezone,
        job=job,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Hourly: flag the published marts stale when older than 26 hours.",
    )
