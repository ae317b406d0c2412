"""Publication domain: ``published_warehouse`` (the publish step of write-audit-publish), its
freshness check, and the ``published_freshness`` job and hourly schedule.

The asset depends on every mart, so Dagster runs it only after the dbt build and every
blocking check upstream (ingestion quality errors, error-severity dbt tests) passed in the
run. As a second gate it refuses to publish when the *latest* evaluation of any blocking
check upstream failed (e.g. someone materializes only ``published_warehouse`` after a failed
nightly run). The copy and the atomic swap are :func:`warehouse.publish.publish` (no
Dagster). ``published_fresh`` flags the published marts stale when the last publication is
older than 26 hours. The publication takes the build lock (:mod:`orchestration.locks`).
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    asset_check,
    define_asset_job,
)

from orchestration.defs.ingestion import run_source_state
from orchestration.locks import WAITING, LockTimeoutError, build_writer_lock
from orchestration.resources import PetProSettings
from petpro.settings import Settings

PUBLISHED_KEY = AssetKey("published_warehouse")
STALE_AFTER_HOURS = 26.0


def blocking_checks_upstream(
    assets: Iterable[AssetsDefinition], roots: Sequence[AssetKey]
) -> list[AssetCheckKey]:
    """The blocking checks of ``roots`` and of every asset upstream of them."""
    assets = list(assets)
    parents: dict[AssetKey, set[AssetKey]] = {}
    for a in assets:
        for spec in a.specs:
            parents[spec.key] = {dep.asset_key for dep in spec.deps}
    seen: set[AssetKey] = set()
    stack = list(roots)
    while stack:
        key = stack.pop()
        if key not in seen:
            seen.add(key)
            stack.extend(parents.get(key, ()))
    checks = {
        spec.key
        for a in assets
        for spec in a.check_specs
        if spec.blocking and spec.asset_key in seen
    }
    return sorted(checks, key=lambda k: (k.asset_key.to_user_string(), k.name))


def failed_blocking_checks(
    context: AssetExecutionContext, blocking: Sequence[AssetCheckKey]
) -> list[str]:
    """Names of the ``blocking`` checks whose latest evaluation failed with ERROR severity."""
    # One query for all of them: one per check (251 at 320,000 customers) took 0.9-1.5 s of
    # every publication on SQLite storage, the batch 0.05-0.09 s (docs/orchestration.md).
    latest = context.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(blocking)
    )
    failed = []
    for key in blocking:
        record = latest.get(key)
        if record is None or record.status.value != "FAILED":
            continue
        evaluation = record.evaluation
        if evaluation is not None and evaluation.severity != AssetCheckSeverity.ERROR:
            continue
        failed.append(f"{key.asset_key.to_user_string()}:{key.name}")
    return sorted(failed)


def build_published_asset(
    mart_keys: Sequence[AssetKey], blocking: Sequence[AssetCheckKey] = ()
) -> AssetsDefinition:
    @asset(
        key=PUBLISHED_KEY,
        deps=list(mart_keys),
        group_name="published",
        kinds={"duckdb", "parquet"},
        description=(
            "The audited marts, swapped in atomically for readers: "
            "$PETPRO_HOME/published/warehouse.duckdb (marts + _publication) and "
            "published/marts/<mart>.parquet (every mart but the per-customer ones). Written "
            "only after every blocking check passed."
        ),
    )
    def published_warehouse(
        context: AssetExecutionContext, petpro: PetProSettings
    ) -> MaterializeResult:
        from insights.marts import derive_insight_marts
        from predictions.steps import derived_steps
        from warehouse.inputs import publication_inputs
        from warehouse.publish import publish

        settings = petpro.settings()
        failed = failed_blocking_checks(context, blocking)
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

        def waiting(holder: str) -> None:
            context.log.warning(
                f"{WAITING} held by {holder} (gives up after {settings.lock_timeout_seconds:g} s)"
            )

        try:
            with build_writer_lock(settings, holder=f"run {context.run.run_id}", on_wait=waiting):
                source = run_source_state(context)
                pub = publish(
                    settings,
                    run_id=context.run.run_id,
                    derive=[derive_insight_marts, *derived_steps(settings)],
                    # Recorded only when this run extracted every table: only then does the
                    # publication reflect the source as of those states.
                    inputs=publication_inputs(settings, source) if source else None,
                )
        except LockTimeoutError as exc:
            raise Failure(description=str(exc), allow_retries=False) from exc
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
def published_fresh(
    context: AssetCheckExecutionContext, petpro: PetProSettings
) -> AssetCheckResult:
    return freshness_result(petpro.settings())


def definitions(
    settings: Settings, mart_keys: Sequence[AssetKey], upstream: Iterable[AssetsDefinition]
) -> Definitions:
    """The publication domain, downstream of the marts and gated by every blocking check
    upstream of them (``upstream``: the assets those checks belong to)."""
    published = build_published_asset(mart_keys, blocking_checks_upstream(upstream, mart_keys))
    freshness = define_asset_job(
        "published_freshness",
        selection=AssetSelection.checks_for_assets(PUBLISHED_KEY),
        description="Evaluate the freshness check of the published marts.",
    )
    schedule = ScheduleDefinition(
        name="published_freshness_schedule",
        cron_schedule="17 * * * *",
        execution_timezone=settings.timezone,
        job=freshness,
        default_status=DefaultScheduleStatus.RUNNING,
        description="Hourly: flag the published marts stale when older than 26 hours.",
    )
    return Definitions(
        assets=[published], asset_checks=[published_fresh], jobs=[freshness], schedules=[schedule]
    )
