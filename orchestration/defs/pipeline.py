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
by default. Every job that writes build.duckdb carries ``petpro/build_duckdb=writer``;
dagster.yaml lets one such run proceed at a time (queued runs), and the build lock serialises
the writing steps of every run, in-process ones included.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    PartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from orchestration.defs.exports import EXPORTS_KEY
from orchestration.defs.ingestion import raw_key
from orchestration.partitions import previous_day
from orchestration.tags import (
    BACKFILL_JOB,
    MODE_FULL,
    MODE_INCREMENTAL,
    MODE_TAG,
    WRITER_TAG,
    WRITER_VALUE,
)
from petpro.settings import Settings

WRITER = {WRITER_TAG: WRITER_VALUE}


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


def definitions(settings: Settings, partitions_def: PartitionsDefinition) -> Definitions:
    jobs = build_jobs(partitions_def)
    return Definitions(
        jobs=list(jobs.values()),
        schedules=[build_nightly_schedule(settings, jobs["nightly_refresh"])],
    )
