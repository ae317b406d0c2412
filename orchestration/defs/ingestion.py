"""Ingestion domain: raw assets, one per source table, PostgreSQL → Parquet lake.

Each asset calls :func:`ingestion.run.ingest_table` and reports what it did as
materialization metadata (rows, files, bytes, rejected rows, watermark, rows/s, touched
activity days). The table's quality-suite result becomes two asset checks: ``quality_errors``
(blocking: an error stops everything downstream, so nothing unaudited is published) and
``quality_warnings`` (reported, never blocking).

``activities`` is partitioned by business day. In a nightly run it is extracted
incrementally by watermark (late events of earlier days included, their days reported in
``touched_dates``); in a backfill, and in every run of ``backfill_activities`` (however it is
launched), the partition window is re-extracted explicitly, whatever the watermark says; in a
full rebuild (tag ``petpro/mode=full``) everything is re-extracted.

Transient source errors (connection refused or reset, timeouts) are retried with exponential
backoff; a contract or configuration error fails at once with its one-line message. Settings
come from the ``petpro`` resource (:class:`orchestration.resources.PetProSettings`).
"""

from collections.abc import Sequence
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Backoff,
    Definitions,
    Failure,
    Jitter,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    RetryPolicy,
    asset,
)

from orchestration.partitions import window_dates
from orchestration.resources import PetProSettings
from orchestration.tags import GENERATED_KEY_TAG, is_full, reextracts_window, truthy
from petpro import child_worker
from petpro.errors import PetProError, is_transient
from petpro.settings import Settings

RAW_GROUP = "raw"
# The child process a run's raw steps extract in (petpro.child_worker); the dbt step ends it.
# It runs the GX suites itself (a GX worker beside it would be a third interpreter in the
# ingestion phase), importing GX when a validation is known to follow.
INGESTION_WORKER = "ingestion"
INGESTION_WARM = ("ingestion.quality_worker:validate_here",)
# Metadata of a raw materialization: the table's [row count, newest updated_at] in the source
# just before this extraction (warehouse.inputs.source_state).
SOURCE_STATE = "source_state"
INGEST_RETRY = RetryPolicy(
    max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

TABLE_DESCRIPTIONS: dict[str, str] = {
    "users": "Users of every role (no names, emails, phones or password hashes).",
    "user_addresses": "User addresses reduced to city, state and country.",
    "pets": "Pets and their owners.",
    "vendors": "Service providers.",
    "services": "Services offered by vendors (category, price, currency).",
    "bookings": "Bookings of services by customers, with their current status.",
    "payments": "Payments of bookings, with their current status.",
    "reviews": "Reviews of bookings.",
    "activities": (
        "The activity event log, one Parquet file per business day; IP addresses and user "
        "agents replaced by a keyed hash, a truncated network and device/OS/browser families."
    ),
}


def raw_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


def run_source_state(context: AssetExecutionContext) -> dict[str, list[Any]] | None:
    """Every table's source state as extracted in *this* run (None unless every table was)."""
    state: dict[str, list[Any]] = {}
    for table in source_tables():
        event = context.instance.get_latest_materialization_event(raw_key(table))
        if event is None or event.run_id != context.run.run_id:
            return None
        mat = event.asset_materialization
        value = mat.metadata.get(SOURCE_STATE) if mat is not None else None
        if value is None:
            return None
        state[table] = list(value.value)
    return state


def source_tables() -> tuple[str, ...]:
    from ingestion.contracts import CONTRACTS

    return tuple(CONTRACTS)


def _count(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, int | float):
        return int(value)
    try:
        return len(value)
    except TypeError:
        return int(bool(value))


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    return str(value)


def allow_generated_key(settings: Settings, tags: dict[str, str]) -> bool:
    # The demo writes $PETPRO_HOME/pii.key once; later runs in that home may reuse it.
    return truthy(tags.get(GENERATED_KEY_TAG)) or (
        not settings.pii_key and (settings.home / "pii.key").exists()
    )


def result_metadata(result: Any) -> dict[str, Any]:
    """Materialization metadata of an ingestion ``TableResult``."""
    # Days whose partition was rewritten or removed: dbt must re-process them, except the
    # days that only lost erased customers' rows (the models delete those customers anyway;
    # one erasure would otherwise stretch the window back to the customer's first activity).
    erased = set(getattr(result, "erased_dates", None) or [])
    touched = sorted(
        (
            set(getattr(result, "touched_dates", None) or [])
            | set(getattr(result, "removed_dates", None) or [])
        )
        - erased
    )
    meta: dict[str, Any] = {
        "rows": MetadataValue.int(int(result.rows)),
        "files": MetadataValue.int(int(result.files)),
        "bytes": MetadataValue.int(int(result.bytes)),
        "rejected": MetadataValue.int(int(result.rejected)),
        "seconds": MetadataValue.float(float(result.seconds)),
        "rows_per_second": MetadataValue.float(float(result.rows_per_second)),
        "watermark": MetadataValue.text(str(result.watermark) if result.watermark else ""),
        "touched_days": MetadataValue.int(len(touched)),
        "erased_days": MetadataValue.int(len(erased)),
    }
    if touched:
        meta["touched_first"] = MetadataValue.text(str(touched[0]))
        meta["touched_last"] = MetadataValue.text(str(touched[-1]))
    if erased:
        meta["erased_first"] = MetadataValue.text(str(min(erased)))
        # Their rows were rewritten from the lake's own files, not read from the source.
        meta["rows_from_lake"] = MetadataValue.int(int(getattr(result, "lake_rows", 0)))
    return meta


def quality_checks(table: str, quality: Any) -> list[AssetCheckResult]:
    key = raw_key(table)
    if quality is None:
        return [
            AssetCheckResult(asset_key=key, check_name="quality_errors", passed=True),
            AssetCheckResult(asset_key=key, check_name="quality_warnings", passed=True),
        ]
    errors, warnings = quality.errors, quality.warnings
    details = getattr(quality, "details", None)
    detail_meta = {"details": MetadataValue.text(_as_text(details)[:4000])} if details else {}
    return [
        AssetCheckResult(
            asset_key=key,
            check_name="quality_errors",
            passed=bool(quality.success) and _count(errors) == 0,
            severity=AssetCheckSeverity.ERROR,
            metadata={
                "errors": MetadataValue.int(_count(errors)),
                "messages": MetadataValue.text(_as_text(errors)[:4000]),
                **detail_meta,
            },
        ),
        AssetCheckResult(
            asset_key=key,
            check_name="quality_warnings",
            passed=_count(warnings) == 0,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "warnings": MetadataValue.int(_count(warnings)),
                "messages": MetadataValue.text(_as_text(warnings)[:4000]),
            },
        ),
    ]


def _build_raw_asset(table: str, partitions_def: PartitionsDefinition | None) -> AssetsDefinition:
    key = raw_key(table)
    partitioned = partitions_def is not None

    @asset(
        key=key,
        group_name=RAW_GROUP,
        description=f"`{table}` extracted from PostgreSQL into the Parquet lake. "
        + TABLE_DESCRIPTIONS.get(table, ""),
        kinds={"postgres", "parquet"},
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run() if partitioned else None,
        retry_policy=INGEST_RETRY,
        check_specs=[
            AssetCheckSpec(
                "quality_errors",
                asset=key,
                blocking=True,
                description="Quality suite errors of the extracted batch (blocking).",
            ),
            AssetCheckSpec(
                "quality_warnings",
                asset=key,
                blocking=False,
                description="Quality suite warnings of the extracted batch (informational).",
            ),
        ],
        metadata={"table": table},
    )
    def _raw(context: AssetExecutionContext, petpro: PetProSettings) -> MaterializeResult:
        from warehouse.inputs import contract_cursors, source_state

        settings = petpro.settings()
        tags = dict(context.run.tags)
        full = is_full(tags)
        dates = None
        if partitioned and reextracts_window(context.run.job_name, tags):
            window = context.partition_time_window
            dates = window_dates(window.start, window.end)
        try:
            # Taken before extracting: see warehouse.inputs (a no-op refresh compares it).
            state = source_state(settings, contract_cursors([table]))[table]
            # In the run's ingestion worker: what the extraction imports and allocates
            # leaves with it when the dbt step ends it (petpro.child_worker). `petpro
            # refresh` started it before the run; a launched run starts it here.
            child_worker.start(INGESTION_WORKER, warm=INGESTION_WARM)
            result = child_worker.call(
                INGESTION_WORKER,
                "ingestion.run:ingest_table",
                settings,
                table,
                full=full,
                dates=dates,
                allow_generated_key=allow_generated_key(settings, tags),
            )
        except Exception as exc:
            if is_transient(exc):
                raise  # the retry policy backs off and tries again
            if isinstance(exc, PetProError):
                raise Failure(description=str(exc), allow_retries=False) from exc
            raise Failure(
                description=f"ingestion of {table} failed: {type(exc).__name__}: {exc}",
                allow_retries=False,
            ) from exc
        context.log.info(
            f"{table}: {result.rows:,} rows, {result.rejected:,} rejected, "
            f"{result.rows_per_second:,.0f} rows/s"
        )
        return MaterializeResult(
            metadata={**result_metadata(result), SOURCE_STATE: MetadataValue.json(state)},
            check_results=quality_checks(table, getattr(result, "quality", None)),
        )

    return _raw


def build_raw_assets(
    partitions_def: PartitionsDefinition, tables: Sequence[str] | None = None
) -> list[AssetsDefinition]:
    return [
        _build_raw_asset(t, partitions_def if t == "activities" else None)
        for t in (tables or source_tables())
    ]


def definitions(partitions_def: PartitionsDefinition) -> Definitions:
    """The ingestion domain: one raw asset (with its quality checks) per source table."""
    return Definitions(assets=build_raw_assets(partitions_def))
