"""Jobs of the code location.

- ``nightly_refresh``: incremental ingestion → quality checks → dbt build (partition window +
  late days) → publication. Partitioned by business day; the schedule picks yesterday.
- ``full_rebuild``: the same graph with tag ``petpro/mode=full`` (every table re-extracted,
  dbt ``--full-refresh``); launch it on any partition (the window is ignored) or on a range.
- ``backfill_activities``: raw activities of a date range and everything downstream of them
  (launch a backfill over a partition range in the UI; it runs as a single run).
- ``export_reports``: report files from the published marts.
- ``published_freshness``: only the 26-hour freshness check of the publication.

Every job that writes build.duckdb carries ``petpro/build_duckdb=writer``; dagster.yaml lets
one such run proceed at a time.
"""

from __future__ import annotations

from dagster import (
    AssetSelection,
    PartitionsDefinition,
    define_asset_job,
)

from orchestration.export_assets import EXPORTS_KEY
from orchestration.published_assets import PUBLISHED_KEY
from orchestration.raw_assets import raw_key
from orchestration.tags import (
    BACKFILL_JOB,
    MODE_FULL,
    MODE_INCREMENTAL,
    MODE_TAG,
    WRITER_TAG,
    WRITER_VALUE,
)

WRITER = {WRITER_TAG: WRITER_VALUE}


def pipeline_selection() -> AssetSelection:
    # Model training (group predictions) runs weekly in its own job, not in the refreshes.
    return (
        AssetSelection.all()
        - AssetSelection.assets(EXPORTS_KEY)
        - AssetSelection.groups("predictions")
    )


def build_jobs(partitions_def: PartitionsDefinition, *, with_exports: bool) -> dict[str]:
    jobs = {
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
        "published_freshness": define_asset_job(
            "published_freshness",
            selection=AssetSelection.checks_for_assets(PUBLISHED_KEY),
            description="Evaluate the freshness check of the published marts.",
        ),
    }
    if with_exports:
        jobs["export_reports"] = define_asset_job(
            "export_reports",
            selection=AssetSelection.assets(EXPORTS_KEY),
            description="Write the report files from the published marts.",
        )
    return jobs
