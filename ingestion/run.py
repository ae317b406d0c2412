"""Ingestion runs: bring tables' lake copies up to date, under a lock, then move the watermark.

``ingest_table`` brings one table's lake copy up to date; ``run_ingestion`` does it for
several tables and writes one run record (``lake/_state/runs/<run_id>.json``). Both are the
public API used by the CLI (``petpro ingest``) and by the orchestration layer. The pieces
live in modules named for what they do: ``snapshots`` (merge by key), ``activity_stream``
and ``partition_writer`` (the daily-partitioned activity log), ``row_checks`` (the row-level
gate that quarantines bad rows), ``integrity`` (corrupt lake files), ``quality`` (the sampled
Great Expectations suite), ``records`` (results and run records), ``memory`` (allocator).

A table's run: verify its lake files (a corrupt one is re-extracted), extract inside one
read-only REPEATABLE READ snapshot of the source, commit files atomically, and only then move
the watermark. Rows failing a row check are quarantined (never in ``data.parquet``, so never
published); a run that quarantined rows fails the table's quality gate. The watermark also
records the gate's settings: when ``PETPRO_EARLIEST_DATE`` changes, the next run re-extracts
the table in full so that every row is judged by the same rule.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ingestion import lake, watermarks
from ingestion.activity_stream import extract_activities
from ingestion.contracts import CONTRACTS, TableContract
from ingestion.extract import fetch_all, fetch_table, quote_ident, snapshot, verify_contract
from ingestion.integrity import LakeCorruptError, corrupt_files
from ingestion.memory import memory_pool, release_memory
from ingestion.privacy import Pseudonymiser
from ingestion.quality import QualityResult, validate
from ingestion.records import (
    IngestionError,
    IngestionRun,
    TableResult,
    new_run,
    write_record,
)
from ingestion.row_checks import RowGate
from ingestion.snapshots import Progress, extract_snapshot
from petpro.errors import PetProError
from petpro.settings import Settings

__all__ = [
    "IngestionError",
    "IngestionRun",
    "LakeCorruptError",
    "Progress",
    "TableResult",
    "ingest_table",
    "run_ingestion",
]


@contextlib.contextmanager
def _table_lock(settings: Settings, table: str) -> Iterator[None]:
    """Serialise runs on one table (other tables may be extracted concurrently)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with (settings.state_dir / f".{table}.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _contract(table: str) -> TableContract:
    try:
        return CONTRACTS[table]
    except KeyError:
        raise PetProError(f"unknown table {table!r}: choose among {', '.join(CONTRACTS)}") from None


def _source_url(settings: Settings) -> str:
    from sourcedb.server import source_url

    return source_url(settings)


def _max_updated(conn: Any, contract: TableContract) -> datetime | None:
    rows = fetch_all(
        conn, f"select max({quote_ident(contract.cursor)}) from {quote_ident(contract.table)}"
    )
    return rows[0][0] if rows else None


def _gate_settings(settings: Settings) -> dict[str, str]:
    return {"earliest_date": settings.plausible_since.isoformat()}


def _quarantine_path(settings: Settings, contract: TableContract) -> str:
    directory = lake.table_dir(settings, contract.table).relative_to(settings.lake_dir)
    if contract.partitioning == "daily":
        return f"{directory}/event_date=*/{lake.REJECTED_FILE}"
    return f"{directory}/{lake.REJECTED_FILE}"


def _gate_quality(
    settings: Settings,
    contract: TableContract,
    result: TableResult,
    gate: RowGate,
    sampled: QualityResult,
) -> QualityResult:
    """The table's quality result: the row gate's failures on every row (errors: rows were
    quarantined in this run), then the sampled suite's; corrupt files that were re-extracted
    and rows still held in quarantine from earlier runs as warnings."""
    where = _quarantine_path(settings, contract)
    errors = gate.error_messages(where) + sampled.errors
    warnings = gate.warning_messages()
    warnings += [
        f"{contract.table}: corrupt lake file {entry}; re-extracted from the source"
        for entry in result.corrupt_files
    ]
    held = result.quarantined - result.rejected
    if held > 0:
        warnings.append(
            f"{contract.table}: {held:,} row(s) from earlier runs still held in quarantine "
            f"({where}); they stay out of the marts until corrected in the source"
        )
    warnings += sampled.warnings
    details = dict(sampled.details)
    details["checked_rows"] = gate.checked
    details["quarantined_in_run"] = result.rejected
    details["quarantined_total"] = result.quarantined
    details["row_checks"] = [t.to_dict() for t in gate.failed()]
    details["row_warnings"] = [t.to_dict() for t in gate.warning_tallies.values()]
    details["earliest_date"] = settings.plausible_since.isoformat()
    return QualityResult(success=not errors, errors=errors, warnings=warnings, details=details)


def _corrupt(settings: Settings, table: str, result: TableResult) -> set[date | None]:
    """Verify the table's lake files; name the corrupt ones in ``result``; return the
    partition dates to re-extract (None: a file outside any day partition)."""
    found = corrupt_files(settings, table)
    result.corrupt_files = [
        f"{path.relative_to(settings.lake_dir)}: {why}" for path, why in sorted(found.items())
    ]
    return {lake.partition_date(path.parent) for path in found}


def _ingest(
    settings: Settings,
    table: str,
    *,
    full: bool,
    dates: tuple[date, date] | None,
    allow_generated_key: bool,
    progress: Progress | None,
) -> TableResult:
    contract = _contract(table)
    result = TableResult(table=table)
    started = time.perf_counter()
    pseudonymiser = None
    if contract.transient:
        pseudonymiser = Pseudonymiser(
            settings.resolved_pii_key(allow_generated=allow_generated_key)
        )
    gate_settings = _gate_settings(settings)
    url = _source_url(settings)
    with _table_lock(settings, table), memory_pool():
        directory = lake.table_dir(settings, table)
        lake.clean_tmp(directory)
        corrupt = _corrupt(settings, table, result)
        previous = watermarks.load(settings, table)
        # Rows judged by other rules (an older version, another earliest date) are judged
        # again: a full extraction re-reads every row, including the quarantined ones.
        rules_changed = previous is not None and watermarks.gate(settings, table) != gate_settings
        since = (
            None if previous is None else previous - timedelta(minutes=settings.lookback_minutes)
        )
        if full or rules_changed:
            since = None
        gate = RowGate(contract, earliest=settings.plausible_since, now=datetime.now(UTC))
        with snapshot(url) as conn:
            result.new_columns = verify_contract(conn, contract)
            # Read before extracting: anything changed later is newer and caught next run.
            high = _max_updated(conn, contract)
            known_users = None
            if contract.partitioning == "daily":
                assert pseudonymiser is not None
                sampler = extract_activities(
                    settings,
                    conn,
                    contract,
                    result,
                    since=since,
                    dates=dates,
                    repair=sorted(d for d in corrupt if d is not None),
                    pseudonymiser=pseudonymiser,
                    gate=gate,
                    progress=progress,
                )
                known_users = fetch_table(conn, "select id::text as id from users")[
                    "id"
                ].combine_chunks()
            else:
                data_path = directory / lake.DATA_FILE
                if corrupt or not (data_path.exists() or (directory / lake.REJECTED_FILE).exists()):
                    since = None
                sampler = extract_snapshot(
                    settings, conn, contract, result, since=since, gate=gate, progress=progress
                )
        if result.mode == "backfill":
            result.watermark = previous
        else:
            # Data is in place: now (and only now) the watermark may move.
            result.watermark = high or previous
            watermarks.save(
                settings,
                table,
                result.watermark,
                run_at=datetime.now(UTC).isoformat(),
                mode=result.mode,
                gate=gate_settings,
            )
    result.seconds = time.perf_counter() - started
    result.rows_per_second = result.rows / result.seconds if result.seconds > 0 else 0.0
    # Hand the extraction's buffers back before the (import-heavy) quality step, so peak
    # memory is the larger of the two phases rather than their sum: the pseudonymiser's
    # caches (one entry per distinct address) go first, then the sampler's batches once
    # the sample is drawn.
    pseudonymiser = None
    sample, seen = sampler.table(), sampler.seen
    del sampler
    gc.collect()
    release_memory()
    checked = time.perf_counter()
    sampled = validate(contract, sample, known_users=known_users, sampled_from=seen)
    result.quality = _gate_quality(settings, contract, result, gate, sampled)
    del sample, known_users
    result.quality_seconds = time.perf_counter() - checked
    return result


def ingest_table(
    settings: Settings,
    table: str,
    *,
    full: bool = False,
    dates: tuple[date, date] | None = None,
    allow_generated_key: bool = False,
    progress: Progress | None = None,
) -> TableResult:
    """Bring one table's lake copy up to date (or rebuild it with ``full``; re-extract the
    activity partitions of ``dates`` = (first, last) for a backfill). Writes a run record;
    raises ``ContractDriftError`` (and other ``PetProError``) when the table cannot be
    extracted."""
    run = new_run(full=full, dates=dates)
    try:
        result = _ingest(
            settings,
            table,
            full=full,
            dates=dates,
            allow_generated_key=allow_generated_key,
            progress=progress,
        )
    except Exception as exc:
        run.errors[table] = str(exc)
        run.finished_at = datetime.now(UTC)
        write_record(settings, run)
        raise
    run.tables[table] = result
    run.finished_at = datetime.now(UTC)
    write_record(settings, run)
    return result


def run_ingestion(
    settings: Settings,
    tables: Sequence[str] | None = None,
    *,
    full: bool = False,
    dates: tuple[date, date] | None = None,
    allow_generated_key: bool = False,
    progress: Progress | None = None,
    raise_on_error: bool = True,
) -> IngestionRun:
    """Extract several tables (default: all, parents first; with ``dates`` and no tables:
    activities only). A table that fails (e.g. contract drift) does not stop the others;
    the run record lists it, and ``IngestionError`` is raised at the end unless
    ``raise_on_error=False`` (then inspect ``run.errors``)."""
    if tables is None:
        names = ["activities"] if dates is not None else list(CONTRACTS)
    else:
        names = list(dict.fromkeys(tables))
        for name in names:
            _contract(name)
    if dates is not None and dates[0] > dates[1]:
        raise PetProError(f"--dates {dates[0]}..{dates[1]}: the first date is after the last")
    if "activities" in names:
        # Fail fast on a missing key instead of after extracting every other table.
        settings.resolved_pii_key(allow_generated=allow_generated_key)
    run = new_run(full=full, dates=dates)
    for name in names:
        try:
            run.tables[name] = _ingest(
                settings,
                name,
                full=full,
                dates=dates if name == "activities" else None,
                allow_generated_key=allow_generated_key,
                progress=progress,
            )
        except PetProError as exc:
            run.errors[name] = str(exc)
    run.finished_at = datetime.now(UTC)
    write_record(settings, run)
    if run.errors and raise_on_error:
        first = next(iter(run.errors.values()))
        more = (
            f" (and {len(run.errors) - 1} more table(s), see {run.record_path})"
            if len(run.errors) > 1
            else ""
        )
        raise IngestionError(first + more, run)
    return run
