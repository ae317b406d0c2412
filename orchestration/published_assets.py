"""``published_warehouse``: the publish step of write-audit-publish, and its freshness check.

The asset depends on every mart, so Dagster runs it only after the dbt build and every
blocking check upstream (ingestion quality errors, error-severity dbt tests) passed in the
run. As a second gate it refuses to publish when the *latest* evaluation of any blocking
check upstream failed (e.g. someone materializes only ``published_warehouse`` after a failed
nightly run). The copy and the atomic swap are :func:`warehouse.publish.publish` (no
Dagster). ``published_fresh`` flags the published marts stale when the last publication is
older than 26 hours.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from orchestration.locks import build_writer_lock
from orchestration.tags import BUILD_POOL
from petpro.settings import Settings, get_settings

PUBLISHED_KEY = AssetKey("published_warehouse")
STALE_AFTER_HOURS = 26.0


def failed_blocking_checks(context: AssetExecutionContext) -> list[str]:
    """Names of blocking checks upstream whose latest evaluation failed."""
    from dagster._core.storage.asset_check_execution_record import (
        AssetCheckExecutionRecordStatus,
    )

    try:
        graph = context.repository_def.asset_graph
    except Exception:  # no repository (direct invocation): nothing to consult
        return []
    upstream = graph.get_ancestor_asset_keys(PUBLISHED_KEY)
    blocking = [
        key
        for key in graph.get_check_keys_for_assets(upstream)
        if graph.get_check_spec(key).blocking
    ]
    if not blocking:
        return []
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(blocking)
    failed = []
    for key, record in latest.items():
        if record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        evaluation = record.evaluation
        if evaluation is not None and evaluation.severity != AssetCheckSeverity.ERROR:
            continue
        failed.append(f"{key.asset_key.to_user_string()}:{key.name}")
    return sorted(failed)


def build_published_asset(mart_keys: Sequence[AssetKey]) -> AssetsDefinition:
    @asset(
        key=PUBLISHED_KEY,
        deps=list(mart_keys),
        group_name="published",
        kinds={"duckdb", "parquet"},
        pool=BUILD_POOL,
        description=(
            "The audited marts, swapped in atomically for readers: "
            "$PETPRO_HOME/published/warehouse.duckdb (marts + _publication) and "
            "published/marts/<mart>.parquet. Written only after every blocking check passed."
        ),
    )
    def published_warehouse(context: AssetExecutionContext) -> MaterializeResult:
        from insights.marts import derive_insight_marts
        from warehouse.publish import publish

        settings = get_settings()
        failed = failed_blocking_checks(context)
        if failed:
            raise Failure(
                description=(
                    "not publishing: blocking checks failed on the latest build ("
                    + ", ".join(failed[:5])
                    + (" …" if len(failed) > 5 else "")
                    + "); the previous publication is unchanged"
                ),
                allow_retries=False,
            )
        with build_writer_lock(settings):
            pub = publish(settings, run_id=context.run.run_id, derive=[derive_insight_marts])
        if pub.missing_contract_marts:
            context.log.warning(
                "marts promised by the data-layout contract are missing: "
                + ", ".join(pub.missing_contract_marts)
            )
        return MaterializeResult(
            metadata={
                "run_id": MetadataValue.text(pub.run_id),
                "version": MetadataValue.text(pub.version),
                "published_at": MetadataValue.text(pub.published_at.isoformat()),
                "high_water_mark": MetadataValue.text(
                    pub.high_water_mark.isoformat() if pub.high_water_mark else ""
                ),
                "marts": MetadataValue.int(len(pub.row_counts)),
                "rows": MetadataValue.int(sum(pub.row_counts.values())),
                "row_counts": MetadataValue.json(pub.row_counts),
                "database": MetadataValue.path(str(pub.database)),
                "marts_dir": MetadataValue.path(str(pub.marts_dir)),
                "seconds": MetadataValue.float(pub.seconds),
            }
        )

    return published_warehouse


def freshness_result(settings: Settings, now: datetime | None = None) -> AssetCheckResult:
    """Passed when the last publication is at most 26 hours old (WARN severity otherwise)."""
    from warehouse.publish import read_publication

    info = read_publication(settings)
    if info is None:
        return AssetCheckResult(
            asset_key=PUBLISHED_KEY,
            check_name="published_fresh",
            passed=False,
            severity=AssetCheckSeverity.WARN,
            metadata={"reason": MetadataValue.text("nothing has been published yet")},
        )
    age = info.age_hours(now or datetime.now(UTC))
    return AssetCheckResult(
        asset_key=PUBLISHED_KEY,
        check_name="published_fresh",
        passed=age <= STALE_AFTER_HOURS,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "age_hours": MetadataValue.float(round(age, 2)),
            "published_at": MetadataValue.text(info.published_at.isoformat()),
            "run_id": MetadataValue.text(info.run_id),
            "stale_after_hours": MetadataValue.float(STALE_AFTER_HOURS),
        },
    )


@asset_check(
    asset=PUBLISHED_KEY,
    name="published_fresh",
    blocking=False,
    description=f"The published marts are at most {STALE_AFTER_HOURS:.0f} hours old "
    "(reads published/warehouse.duckdb _publication).",
)
def published_fresh(context: AssetCheckExecutionContext) -> AssetCheckResult:
    return freshness_result(get_settings())
