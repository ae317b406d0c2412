"""Ingestion runs: bring tables' lake copies up to date, under a lock, then move the watermark.

``ingest_table`` brings one table's lake copy up to date; ``run_ingestion`` does it for
several tables and writes one run record (``lake/_state/runs/<run_id>.json``). Both are the
public API used by the CLI (``petpro ingest``) and by the orchestration layer. The pieces
live in modules named for what they do: ``snapshots`` (merge by key), ``activity_stream``
and ``partition_writer`` (the daily-partitioned activity log), ``row_checks`` (the row-level
gate that quarantines bad rows), ``integrity`` (corrupt lake files), ``quality`` (the sampled
Great Expectations suite) and ``quality_worker`` (the child process it runs in), ``records``
(results and run records), ``memory`` (allocator).

A table's run: verify its lake files that changed since ingestion wrote them (all of them
with ``verify_all``; a corrupt one is re-extracted), extract inside one
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
from pathlib import Path
from typing import Any

from ingestion import lake, quality_worker, watermarks
from ingestion.activity_stream import extract_activities
from ingestion.contracts import CONTRACTS, TableContract
from ingestion.extract import Source, fetch_all, fetch_table, quote_ident, verify_contract
from ingestion.integrity import LakeCorruptError, Manifest, verify_table
from ingestion.memory import memory_pool, release_memory
from ingestion.pandas_probe import pandas_hidden
from ingestion.privacy import Pseudonymiser
from ingestion.quality import QualityResult
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


_COLLECT_AFTER_ROWS = 100_000


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


def _source(settings: Settings) -> Source:
    """The run's connection to the source, opened when the first table needs it."""
    return Source(lambda: _source_url(settings))


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


def _corrupt(
    settings: Settings, table: str, result: TableResult, verify_all: bool
) -> tuple[set[date | None], Manifest]:
    """Verify the table's lake files (those changed since recorded, or all); name the
    corrupt ones in ``result``; return the partition dates to re-extract (None: a file
    outside any day partition) and the table's manifest."""
    verification, manifest = verify_table(settings, table, verify_all=verify_all)
    found = verification.corrupt
    result.corrupt_files = [
        f"{path.relative_to(settings.lake_dir)}: {why}" for path, why in sorted(found.items())
    ]
    result.verified_files = verification.verified
    result.unchanged_files = verification.unchanged
    result.verify_seconds = verification.seconds
    return {lake.partition_date(path.parent) for path in found}, manifest


def _verdict_path(settings: Settings, table: str) -> Path:
    return settings.state_dir / f"{table}.quality.json"


def _carried_verdict(
    settings: Settings, table: str, previous: datetime | None, result: TableResult
) -> QualityResult | None:
    """The sampled suite's verdict of the run that left the lake as it is, when this run
    changed no lake file: the rows it re-read (the look-back window) are the rows already
    judged, so Great Expectations is neither imported nor run again, and a failed verdict
    stays failed until the data changes. None: validate this run's rows."""
    if result.files_changed or result.corrupt_files or previous is None:
        return None
    stored = lake.read_json(_verdict_path(settings, table))
    if not stored or stored.get("watermark") != previous.isoformat():
        return None  # e.g. the run that moved the watermark died before validating
    verdict = QualityResult.from_dict(stored.get("sampled") or {})
    verdict.details["carried_over"] = True
    return verdict


def _save_verdict(
    settings: Settings, table: str, watermark: datetime | None, verdict: QualityResult
) -> None:
    lake.write_json(
        _verdict_path(settings, table),
        {"watermark": watermark.isoformat() if watermark else None, "sampled": verdict.to_dict()},
    )


def _ingest(
    settings: Settings,
    table: str,
    *,
    full: bool,
    dates: tuple[date, date] | None,
    allow_generated_key: bool,
    progress: Progress | None,
    verify_all: bool = False,
    source: Source,
) -> TableResult:
    contract = _contract(table)
    result = TableResult(table=table)
    started = time.perf_counter()
    key = (
        settings.resolved_pii_key(allow_generated=allow_generated_key)
        if contract.transient
        else b""
    )
    gate_settings = _gate_settings(settings)
    # pandas is for the sampled suite only: extraction runs without importing it.
    with _table_lock(settings, table), memory_pool(), pandas_hidden():
        pseudonymiser = Pseudonymiser(key) if contract.transient else None
        directory = lake.table_dir(settings, table)
        lake.clean_tmp(directory)
        corrupt, manifest = _corrupt(settings, table, result, verify_all)
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
        with source.snapshot() as conn:
            result.new_columns = verify_contract(conn, contract)
            # Read before extracting: anything changed later is newer and caught next run.
            high = _max_updated(conn, contract)
            if high is not None and (previous is None or high > previous or corrupt):
                # Rows newer than the watermark: files will change and their sample be
                # validated, so the GX worker imports now, beside the extraction, not after it.
                quality_worker.start()
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
                    manifest=manifest,
                    pseudonymiser=pseudonymiser,
                    gate=gate,
                    progress=progress,
                )
                carried = _carried_verdict(settings, table, previous, result)
                if sampler.seen and carried is None:
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
                manifest.record(result.written)
                carried = _carried_verdict(settings, table, previous, result)
        # The files' records before the watermark: a crash in between only costs the next
        # run a verification of the files written here.
        manifest.save()
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
    with pandas_hidden():
        sample, seen = sampler.table(), sampler.seen
    del sampler
    if seen >= _COLLECT_AFTER_ROWS:
        # A full collection walks every object of the process (0.1-0.2 s once GX and
        # dbt are loaded): worth it only after an extraction big enough to matter.
        gc.collect()
    release_memory()
    checked = time.perf_counter()
    if carried is not None:
        sampled = carried
    else:
        sampled = quality_worker.validate(
            contract, sample, known_users=known_users, sampled_from=seen
        )
    if carried is None or result.watermark != previous:
        _save_verdict(settings, table, result.watermark, sampled)
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
    verify_all: bool = False,
) -> TableResult:
    """Bring one table's lake copy up to date (or rebuild it with ``full``; re-extract the
    activity partitions of ``dates`` = (first, last) for a backfill; ``verify_all``: verify
    every lake file of the table, not only those changed since ingestion wrote them).
    Writes a run record; raises ``ContractDriftError`` (and other ``PetProError``) when the
    table cannot be extracted."""
    run = new_run(full=full, dates=dates)
    try:
        with _source(settings) as source:
            result = _ingest(
                settings,
                table,
                full=full,
                dates=dates,
                allow_generated_key=allow_generated_key,
                progress=progress,
                verify_all=verify_all,
                source=source,
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


@contextlib.contextmanager
def _quality_worker_closed() -> Iterator[None]:
    """A whole ingestion ends its GX worker (a Dagster run ingests table by table, one step
    each, and its dbt step ends the worker instead)."""
    try:
        yield
    finally:
        quality_worker.close()


def run_ingestion(
    settings: Settings,
    tables: Sequence[str] | None = None,
    *,
    full: bool = False,
    dates: tuple[date, date] | None = None,
    allow_generated_key: bool = False,
    progress: Progress | None = None,
    raise_on_error: bool = True,
    verify_all: bool = False,
) -> IngestionRun:
    """Extract several tables (default: all, parents first; with ``dates`` and no tables:
    activities only). A table that fails (e.g. contract drift) does not stop the others;
    the run record lists it, and ``IngestionError`` is raised at the end unless
    ``raise_on_error=False`` (then inspect ``run.errors``). ``verify_all`` verifies every
    lake file of each table first (see ``integrity``), not only those that changed."""
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
    with _source(settings) as source, _quality_worker_closed():
        for name in names:
            try:
                run.tables[name] = _ingest(
                    settings,
                    name,
                    full=full,
                    dates=dates if name == "activities" else None,
                    allow_generated_key=allow_generated_key,
                    progress=progress,
                    verify_all=verify_all,
                    source=source,
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
