"""``report_exports``: report files written from the published marts (never the build file).

Thin wrapper over :func:`exports.run.export_reports`, downstream of ``published_warehouse`` so
lineage ends at the files people download. Run by the ``export_reports`` job (03:00 schedule,
or right after a nightly refresh through the ``export_after_refresh`` sensor).
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.published_assets import PUBLISHED_KEY
from petpro.settings import get_settings

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
def report_exports(context: AssetExecutionContext) -> MaterializeResult:
    from exports.run import export_reports

    result = export_reports(get_settings())
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
