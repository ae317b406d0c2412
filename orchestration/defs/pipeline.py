"""Pipeline domain: the refresh jobs that run across ingestion, warehouse and publication, and
the nightly schedule.

- ``nightly_refresh``: incremental ingestion → quality checks → dbt build (partition window +
  late days) → publication. Partitioned by business day; the schedule picks yesterday.
- ``full_rebuild``: the same graph with tag ``petpro/mode=full`` (every table re-extracted,
  dbt ``--full-refresh``); launch it on any partition (the window is ignored) or on a range.
- ``backfill_activities``: raw activities of a date range and everything downstream of them
  (launch a backfill over a partition range in the UI; it runs as a single run).

``nightly_refresh_schedule`` runs at 02:00 ``PETPRO_TIMEZONE`` on the previous business day's
activity partition (dbt re-processes ``late_days`` days before it for late events); it is on
by default. ``intraday_refresh_sensor`` (off by default; turn it on in the UI under
*Automation*) looks every 5 minutes and, when the source changed since the current
publication (:mod:`warehouse.inputs`) and no refresh is in progress, runs ``nightly_refresh``
on *today's* partition with tag ``petpro/intraday=true``: what changed is extracted, the
incremental marts recompute today's window (plus the late-event look-back), the others are
rebuilt, and "today so far" is published. Every job that writes build.duckdb carries ``petpro/build_duckdb=writer``;
dagster.yaml lets one such run proceed at a time (queued runs), and the build lock serialises
the writing steps of every run, in-process ones included.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    PartitionsDefinition,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    define_asset_job,
    schedule,
    sensor,
)

from orchestration.defs.exports import EXPORTS_KEY
from orchestration.defs.ingestion import raw_key
from orchestration.partitions import previous_day, today
from orchestration.resources import PetProSettings
from orchestration.tags import (
    BACKFILL_JOB,
    INTRADAY_TAG,
    MODE_FULL,
    MODE_INCREMENTAL,
    MODE_TAG,
    WRITER_TAG,
    WRITER_VALUE,
)
from petpro.settings import Settings

WRITER = {WRITER_TAG: WRITER_VALUE}
INTRADAY_INTERVAL_SECONDS = 300


def pipeline_selection() -> AssetSelection:
    # Model training (group predictions) runs weekly in its own job, not in the refreshes.
    return (
        AssetSelection.all()
        - AssetSelection.assets(EXPORTS_KEY)
        - AssetSelection.groups("predictions")
    )


def build_jobs(partitions_def: PartitionsDefinition) -> dict[str, Any]:
    return {
        "nightly_refresh": define_asset_job(
            "nightly_refresh",
            selection=pipeline_selection(),
            partitions_def=partitions_def,
            tags={**WRITER, MODE_TAG: MODE_INCREMENTAL},
            description="Incremental ingestion, quality checks, dbt build of the partition "
            "window (plus late days) and write-audit-publish.",
        ),
        "full_rebuild": define_asset_job(
            "full_rebuild",
            selection=pipeline_selection(),
            partitions_def=partitions_def,
            tags={**WRITER, MODE_TAG: MODE_FULL},
            description="Re-extract every table, rebuild dbt with --full-refresh, publish "
            "(the partition chosen only labels the run).",
        ),
        BACKFILL_JOB: define_asset_job(
            BACKFILL_JOB,
            selection=AssetSelection.assets(raw_key("activities")).downstream()
            - AssetSelection.assets(EXPORTS_KEY)
            - AssetSelection.groups("predictions"),
            partitions_def=partitions_def,
            tags={**WRITER, MODE_TAG: MODE_INCREMENTAL},
            description="Re-extract the activity partitions of a date range (launch a "
            "backfill over a range) and rebuild/publish everything downstream.",
        ),
    }


def build_nightly_schedule(settings: Settings, job: Any) -> ScheduleDefinition:
    """02:00 in the business time zone, on the previous business day's partition."""
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


ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def build_intraday_sensor(job: Any) -> SensorDefinition:
    """Every 5 minutes (when turned on): a micro-batch of today so far, if anything changed."""

    @sensor(
        name="intraday_refresh_sensor",
        job=job,
        minimum_interval_seconds=INTRADAY_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.STOPPED,
        description="Every 5 minutes, when turned on: if the source changed since the current "
        "publication, run nightly_refresh on today's partition (extract what changed, rebuild "
        "today's window, publish). Off by default.",
    )
    def intraday_refresh_sensor(
        context: SensorEvaluationContext, petpro: PetProSettings
    ) -> SensorResult | SkipReason:
        from warehouse.inputs import unchanged_since_publication

        settings = petpro.settings()
        busy = context.instance.get_run_records(
            RunsFilter(job_name=job.name, statuses=ACTIVE_STATUSES), limit=1
        )
        if busy:
            # One refresh at a time: the next tick looks again once this one is done.
            return SkipReason(f"run {busy[0].dagster_run.run_id} of {job.name} is in progress")
        verdict = unchanged_since_publication(settings)
        if verdict.unchanged and verdict.publication is not None:
            return SkipReason(f"nothing new since publication {verdict.publication.version}")
        day = today(settings).isoformat()
        return SensorResult(
            run_requests=[
                RunRequest(
                    partition_key=day,
                    tags={MODE_TAG: MODE_INCREMENTAL, INTRADAY_TAG: "true"},
                )
            ]
        )

    return intraday_refresh_sensor


def definitions(settings: Settings, partitions_def: PartitionsDefinition) -> Definitions:
    jobs = build_jobs(partitions_def)
    return Definitions(
        jobs=list(jobs.values()),
        schedules=[build_nightly_schedule(settings, jobs["nightly_refresh"])],
        sensors=[build_intraday_sensor(jobs["nightly_refresh"])],
    )
