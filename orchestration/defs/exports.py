"""Exports domain: ``report_exports`` (report files written from the published marts, never the
build file), the ``export_reports`` job, its 03:00 schedule, the ``export_after_refresh``
sensor, and the stakeholder PDF's monthly and weekly schedules (:mod:`orchestration.report_schedules`).

The asset is a thin wrapper over :func:`exports.run.export_reports`, downstream of
``published_warehouse`` so lineage ends at the files people download. The sensor requests an
``export_reports`` run after each successful ``nightly_refresh`` when
``PETPRO_EXPORT_AFTER_REFRESH=true`` (the ``petpro`` resource) or when that run carries the
tag ``petpro/export_after=true`` (so it can be asked per run from the launchpad).
"""

from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunStatusSensorContext,
    ScheduleDefinition,
    SensorDefinition,
    SkipReason,
    asset,
    define_asset_job,
    run_status_sensor,
)

from orchestration.defs.publication import PUBLISHED_KEY
from orchestration.report_schedules import build_report_schedules, stakeholder_report_job
from orchestration.resources import PetProSettings
from orchestration.tags import EXPORT_AFTER_TAG, truthy
from petpro.settings import Settings

EXPORTS_KEY = AssetKey("report_exports")


@asset(
    key=EXPORTS_KEY,
    deps=[PUBLISHED_KEY],
    group_name="exports",
    kinds={"csv", "parquet", "excel"},
    description="Report files (CSV, Parquet, XLSX) with manifest.json under "
    "$PETPRO_HOME/exports/<YYYY-MM-DD>/, built from the published marts; exports/latest "
    "points at the newest complete folder.",
)
def report_exports(context: AssetExecutionContext, petpro: PetProSettings) -> MaterializeResult:
    from exports.run import export_reports

    result = export_reports(petpro.settings())
    context.log.info(f"{len(result.files)} report files in {result.folder}")
    return MaterializeResult(
        metadata={
            "folder": MetadataValue.path(str(result.folder)),
            "report_date": MetadataValue.text(result.report_date.isoformat()),
            "files": MetadataValue.int(len(result.files)),
            "rows": MetadataValue.int(result.total_rows),
            "bytes": MetadataValue.int(result.total_bytes),
            "publication_run_id": MetadataValue.text(result.run_id),
            "manifest": MetadataValue.path(str(result.manifest_path)),
        }
    )


def build_export_after_refresh_sensor(nightly_job: Any, export_job: Any) -> SensorDefinition:
    """The sensor on ``nightly_job`` requesting ``export_job`` (asset jobs from
    ``define_asset_job``, whose class Dagster does not export)."""

    @run_status_sensor(
        name="export_after_refresh",
        run_status=DagsterRunStatus.SUCCESS,
        monitored_jobs=[nightly_job],
        request_job=export_job,
        default_status=DefaultSensorStatus.RUNNING,
        description="Runs export_reports right after a successful nightly_refresh when "
        "PETPRO_EXPORT_AFTER_REFRESH=true or the run has tag petpro/export_after=true.",
        minimum_interval_seconds=30,
    )
    def export_after_refresh(
        context: RunStatusSensorContext, petpro: PetProSettings
    ) -> RunRequest | SkipReason:
        run = context.dagster_run
        wanted = petpro.settings().export_after_refresh or truthy(run.tags.get(EXPORT_AFTER_TAG))
        if not wanted:
            return SkipReason(
                "export after refresh is off (PETPRO_EXPORT_AFTER_REFRESH / tag petpro/export_after)"
            )
        return RunRequest(run_key=f"export-after-{run.run_id}")

    return export_after_refresh


def definitions(settings: Settings, nightly_job: Any) -> Definitions:
    """The exports domain; the sensor follows ``nightly_job``."""
    export_job = define_asset_job(
        "export_reports",
        selection=AssetSelection.assets(EXPORTS_KEY),
        description="Write the report files from the published marts.",
    )
    schedule = ScheduleDefinition(
        name="export_reports_schedule",
        cron_schedule="0 3 * * *",
        execution_timezone=settings.timezone,
        job=export_job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"03:00 {settings.timezone}: report files from the published marts.",
    )
    return Definitions(
        assets=[report_exports],
        jobs=[export_job, stakeholder_report_job],
        schedules=[schedule, *build_report_schedules(settings)],
        sensors=[build_export_after_refresh_sensor(nightly_job, export_job)],
    )
