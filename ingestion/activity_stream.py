"""The activity log: extraction by event date into daily partitions.

The event date of a row is its timestamp's date in ``PETPRO_TIMEZONE`` as PostgreSQL computes
it: the same expression plans the run (per-date counts, touched dates), selects the rows of
the wanted dates and is streamed with every row to decide its partition (in UTC, where a date
is plain arithmetic on the instant and no time-zone rules can disagree, Arrow computes it
from the streamed timestamp instead, sparing the server the expression on every row).

``activities`` is partitioned by event date in ``PETPRO_TIMEZONE``. A run re-extracts the
dates touched since the watermark (late events included) plus every date whose row count
differs between source and lake (hard deletes) and every date whose lake file was found
corrupt; a partition is always replaced whole. A backfill re-extracts the dates asked for.

Finding the dates that lost rows costs what changed: the source's total row count (one
parallel index-only scan, no per-row time-zone arithmetic) is compared with what the lake
holds outside the dates being re-extracted anyway plus the source rows of those dates
(counted over their index range only). Only when they differ, i.e. rows vanished (or
appeared) somewhere else, does the run count every date of the source (``GROUP BY`` of the
event date over the whole table, ~12x the cost of the total) to find which. Of those dates,
the ones that only lost the rows of customers erased from the source are named apart
(``TableResult.erased_dates``): rewritten from the lake's own files without the erased
customers' rows (not extracted again: an erasure of a long-time customer touches hundreds of
dates) and left out of dbt's window, which one erasure would otherwise stretch back to the
customer's first activity.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingestion import lake
from ingestion.contracts import TableContract
from ingestion.extract import (
    BackgroundStage,
    Converted,
    Converter,
    fetch_all,
    fetch_table,
    quote_ident,
    quote_literal,
    select_sql,
    stream,
)
from ingestion.integrity import Manifest
from ingestion.partition_writer import PartitionWriter, write_mixed
from ingestion.privacy import Pseudonymiser
from ingestion.quality import Sampler, quality_columns
from ingestion.records import TableResult
from ingestion.row_checks import RowGate
from ingestion.snapshots import ts_literal
from petpro.settings import Settings

Progress = Callable[[str, int, int | None], None]
# The event date each extracted row carries from the server (not a lake column).
EVENT_DATE = "_event_date"
_PAD = timedelta(days=1)
# Who the activities belong to, and the source table whose rows an erasure deletes.
_USER_COLUMN = "user_id"
_USERS = "users"
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Zulu"})


def _day_start_utc(day: date, settings: Settings) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=settings.tz).astimezone(UTC)


def _date_ranges(days: Sequence[date]) -> list[tuple[date, date]]:
    """Contiguous runs of dates (inclusive bounds)."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][1]).days == 1:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _lake_counts(
    settings: Settings, table: str, manifest: Manifest, skip: Sequence[date]
) -> dict[date, int]:
    """Rows per date in the lake (data + quarantine), from the verified files' records (a
    footer only for a file without one); ``skip``: dates whose files are corrupt
    (re-extracted anyway)."""
    return {
        day: manifest.rows(path / lake.DATA_FILE) + manifest.rows(path / lake.REJECTED_FILE)
        for day, path in lake.lake_partitions(settings, table).items()
        if day not in skip
    }


def _erased_only_dates(
    conn: Any,
    settings: Settings,
    table: str,
    candidates: set[date],
    counts: dict[date, int],
    lake_counts: dict[date, int],
) -> tuple[list[date], pa.Array]:
    """The dates among ``candidates`` (rows vanished, nothing new) whose lake rows differ
    from the source's only by the rows of users no longer in the source: customers erased
    (``delete from users`` cascades to their activities). Their partitions are rewritten all
    the same (the rows must leave the lake; :func:`_rewrite_from_lake`), but dbt need not
    re-process them: every customer-grain model deletes erased customers after each run and
    the aggregates rebuild themselves when one was active outside the window
    (docs/ingestion.md, "Erased customers do not widen the window"). A date with quarantined
    rows, an unreadable file or any other difference stays out of this list, i.e. in dbt's
    window. Also returns the ids of the users gone from the source that those dates held
    (the rows :func:`_rewrite_from_lake` drops)."""
    shrunk = sorted(d for d in candidates if counts.get(d, 0) < lake_counts.get(d, 0))
    gone: set[str] = set()
    if not shrunk:
        return [], pa.array([], pa.string())
    # Read in the same snapshot as the counts: an erasure deletes the user and its activities
    # in one transaction, so the two agree on who is gone.
    users = fetch_table(conn, f"select id::text as id from {quote_ident(_USERS)}").column("id")
    # A set built once: pc.is_in against the 320,000 source ids rebuilt its hash table on
    # every date, 25 ms a date (9.5 of 20.6 s rewriting 80 dates, py-spy).
    live = set(users.to_pylist())
    erased: list[date] = []
    for day in shrunk:
        path = lake.partition_dir(settings, table, day)
        if (path / lake.REJECTED_FILE).exists():
            continue
        try:
            held = pq.read_table(path / lake.DATA_FILE, columns=[_USER_COLUMN]).column(0)
        except (OSError, KeyError, pa.ArrowException):
            continue
        missing = [u for u in pc.unique(held).drop_null().to_pylist() if u not in live]
        lost = pc.sum(pc.is_in(held, value_set=pa.array(missing, pa.string()))).as_py() or 0
        if len(held) == lake_counts[day] and len(held) - lost == counts.get(day, 0):
            erased.append(day)
            gone.update(missing)
    return erased, pa.array(sorted(gone), pa.string())


def _rewrite_from_lake(
    settings: Settings,
    contract: TableContract,
    result: TableResult,
    days: Sequence[date],
    gone: pa.Array,
    counts: dict[date, int],
    advance: Callable[[int], None] | None = None,
) -> PartitionWriter:
    """Rewrite the partitions of erased-only ``days`` from the lake's own files without the
    rows of the ``gone`` users (erased from the source), instead of extracting them again.

    :func:`_erased_only_dates` proved that those rows are exactly the source's rows of the
    date (same count, nothing touched since the watermark, no quarantine), and the lake's
    files are a function of their rows alone (``lake.ParquetSink``): the files written here
    are byte for byte those a re-extraction would write (the tests compare them with a
    from-scratch extraction). An erasure of a long-time customer thereby costs a read of
    the lake's files instead of a source query per run of dates (docs/ingestion.md, "Erased
    customers do not widen the window"). The rows are counted in ``result.lake_rows``, not
    ``result.rows`` (rows extracted from the source)."""
    side = TableResult(contract.table)
    # Same ledger: the manifest records these files like any other the run wrote.
    side.written = result.written
    writer = PartitionWriter(settings, contract, side)
    try:
        for day in days:
            path = lake.partition_dir(settings, contract.table, day) / lake.DATA_FILE
            held = pq.read_table(path, schema=writer.schema)
            kept = held.filter(pc.invert(pc.is_in(held.column(_USER_COLUMN), value_set=gone)))
            if kept.num_rows != counts.get(day, 0):
                # The lake changed under the run (it holds the lake's lock, so it should not).
                raise RuntimeError(
                    f"{path}: {kept.num_rows} rows of live customers, the source has "
                    f"{counts.get(day, 0)} for {day}"
                )
            writer.write(kept, pa.array([day] * kept.num_rows, pa.date32()), rejected=False)
            if advance:
                advance(kept.num_rows)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    result.lake_rows += side.rows
    result.files += side.files
    result.bytes += side.bytes
    result.files_changed += side.files_changed
    return writer


def _local_date_sql(contract: TableContract, settings: Settings) -> str:
    column = quote_ident(contract.partition_source or "timestamp")
    return f"({column} at time zone {quote_literal(settings.timezone)})::date"


def _dates_where(
    contract: TableContract, settings: Settings, first: date, last: date, local_date: str
) -> str:
    """Rows whose event date is in ``first..last``. The timestamp bounds (padded: any
    offset is < 1 day) let the index narrow the scan; the date predicate, in the server's
    own rules, decides."""
    column = quote_ident(contract.partition_source or "timestamp")
    lo = _day_start_utc(first, settings) - _PAD
    hi = _day_start_utc(last + timedelta(days=1), settings) + _PAD
    return (
        f"{column} >= {ts_literal(lo)} and {column} < {ts_literal(hi)} and "
        f"{local_date} between {quote_literal(first.isoformat())}::date "
        f"and {quote_literal(last.isoformat())}::date"
    )


def _count_dates(
    conn: Any, contract: TableContract, settings: Settings, days: Sequence[date], local_date: str
) -> dict[date, int]:
    """Source rows per event date, over the index ranges of ``days`` only."""
    table = quote_ident(contract.table)
    counts: dict[date, int] = {}
    for first, last in _date_ranges(days):
        where = _dates_where(contract, settings, first, last, local_date)
        for day, n in fetch_all(
            conn, f"select {local_date}, count(*) from {table} where {where} group by 1"
        ):
            counts[day] = int(n)
    return counts


def _all_counts(conn: Any, contract: TableContract, local_date: str) -> dict[date, int]:
    """Source rows per event date over the whole table (a full scan)."""
    return {
        row[0]: int(row[1])
        for row in fetch_all(
            conn, f"select {local_date}, count(*) from {quote_ident(contract.table)} group by 1"
        )
    }


def extract_activities(
    settings: Settings,
    conn: Any,
    contract: TableContract,
    result: TableResult,
    *,
    since: datetime | None,
    dates: tuple[date, date] | None,
    repair: Sequence[date],
    manifest: Manifest,
    pseudonymiser: Pseudonymiser,
    gate: RowGate,
    progress: Progress | None,
) -> Sampler:
    """Extract the activity log: everything when ``since`` and ``dates`` are None, else the
    dates touched after ``since`` (or the ``dates`` window), plus the ``repair`` dates."""
    table = contract.table
    local_date = _local_date_sql(contract, settings)
    lake_counts = _lake_counts(settings, table, manifest, repair)
    whole_table = since is None and dates is None
    # Source rows per date, known for every date in ``wanted`` (a full extraction learns
    # them from the rows it writes).
    counts: dict[date, int] = {}
    from_lake: list[date] = []
    gone_users = pa.array([], pa.string())
    if dates is not None:
        result.mode = "backfill"
        first, last = dates
        wanted = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        wanted = sorted(set(wanted) | set(repair))
        counts = _count_dates(conn, contract, settings, wanted, local_date)
        result.date_scan = "changed"
    elif whole_table:
        result.mode = "full"
        wanted = sorted(set(lake_counts) | set(repair))  # + every date written, below
    else:
        assert since is not None
        result.mode = "incremental"
        touched = {
            row[0]
            for row in fetch_all(
                conn,
                f"select distinct {local_date} from {quote_ident(table)} "
                f"where {quote_ident(contract.cursor)} > {ts_literal(since)}",
            )
        }
        wanted = sorted(touched | set(repair))
        counts = _count_dates(conn, contract, settings, wanted, local_date)
        result.date_scan = "changed"
        # Outside the wanted dates the lake must hold exactly the source's other rows;
        # if it does not, some dates lost (or gained) rows: count them all to find which.
        source_total = fetch_all(conn, f"select count(*) from {quote_ident(table)}")[0][0]
        redone = set(wanted)
        lake_other = sum(n for d, n in lake_counts.items() if d not in redone)
        if int(source_total) - sum(counts.values()) != lake_other:
            counts = _all_counts(conn, contract, local_date)
            result.date_scan = "all"
            mismatched = {
                d
                for d in set(counts) | set(lake_counts)
                if counts.get(d, 0) != lake_counts.get(d, 0)
            }
            wanted = sorted(set(wanted) | mismatched)
            result.erased_dates, gone_users = _erased_only_dates(
                conn, settings, table, mismatched - touched - set(repair), counts, lake_counts
            )
            schema = contract.lake_schema()
            from_lake = [
                d
                for d in result.erased_dates
                if pq.read_schema(lake.partition_dir(settings, table, d) / lake.DATA_FILE).equals(
                    schema, check_metadata=False
                )
            ]
    result.touched_dates = list(wanted)
    # Dates read from the source (the erased-only ones come from the lake's own files).
    rewritten = set(from_lake)
    extracted = [d for d in wanted if d not in rewritten]
    if whole_table:
        # The planner's row estimate: enough for a progress bar, and no extra table scan.
        estimate = fetch_all(
            conn,
            f"select reltuples::bigint from pg_class where oid = {quote_literal(table)}::regclass",
        )
        total: int | None = int(estimate[0][0]) if estimate and estimate[0][0] > 0 else None
    else:
        # The erased-only dates' rows are in it too: their rewrite advances the same bar.
        total = sum(counts.get(d, 0) for d in wanted)
    if progress:
        progress(table, 0, total)
    converter = Converter(contract, pseudonymiser, gate)
    writer = PartitionWriter(settings, contract, result)
    sampler = Sampler(columns=quality_columns(contract))
    order = f"{quote_ident(contract.partition_source or 'timestamp')}, {quote_ident(contract.primary_key)}"
    # PostgreSQL dates every row: the writer partitions by the very expression the counts
    # and touched dates above were grouped by. Arrow or Python computing it again would use
    # another copy of the time-zone database, which can disagree with the server's (a rule
    # change, a DST fall-back across midnight) and put rows on a day the plan never counted.
    day_column: str | None = f'{local_date} as "{EVENT_DATE}"'
    if settings.timezone in _UTC_NAMES:
        # In UTC a date is arithmetic on the instant (no time-zone rules to disagree on):
        # Arrow computes it exactly, sparing the server ~0.2 us of CPU per row.
        day_column = None
    queries: list[str] = []
    if whole_table:
        queries.append(select_sql(contract, order=order, extra=day_column))
    else:
        for first, last in _date_ranges(extracted):
            where = _dates_where(contract, settings, first, last, local_date)
            queries.append(select_sql(contract, where=where, order=order, extra=day_column))
    done = 0

    def write(item: tuple[Converted, pa.Array]) -> None:
        out, days = item
        if out.rejected is not None and out.rejected.num_rows:
            assert out.keep is not None
            write_mixed(
                writer,
                out.accepted,
                days.filter(out.keep),
                out.rejected,
                days.filter(pc.invert(out.keep)),
            )
        else:
            writer.write(out.accepted, days, rejected=False)

    # Three threads overlap: the driver decodes the COPY stream (reader thread), this
    # thread converts and pseudonymises, the writer thread encodes and commits Parquet.
    stage = BackgroundStage(write)
    try:
        for sql in queries:
            for batch in stream(conn, sql):
                out = converter.convert(batch)
                days = (
                    batch.column(EVENT_DATE)
                    if day_column
                    else batch.column(contract.partition_source or "timestamp").cast(pa.date32())
                )
                stage.submit((out, days))
                sampler.add(out.accepted)
                done += batch.num_rows
                if progress:
                    progress(table, done, total)
        stage.close()
        writer.finish()
    except BaseException:
        with contextlib.suppress(BaseException):
            stage.close()
        writer.abort()
        raise
    written = set(writer.written)
    if from_lake:

        def advance(rows: int) -> None:
            nonlocal done
            done += rows
            if progress:
                progress(table, done, total)

        side = _rewrite_from_lake(
            settings, contract, result, from_lake, gone_users, counts, advance
        )
        written |= set(side.written)
        writer.pending_dirs |= side.pending_dirs
    if whole_table:
        counts = dict(writer.day_rows)
        wanted = sorted(set(wanted) | set(counts))
        result.touched_dates = list(wanted)
    # Dates asked for (or present in the lake) that produced no rows: remove them.
    for day in sorted(set(wanted) - written):
        path = lake.partition_dir(settings, table, day)
        if lake.remove_partition(path, result.written):
            result.removed_dates.append(day)
            result.files_changed += 1
    # Make every rename durable before the caller moves the watermark.
    writer.pending_dirs.add(lake.table_dir(settings, table))
    lake.fsync_dirs(writer.pending_dirs, threads=PartitionWriter.IO_THREADS)
    if lake.ensure_partition_glob(settings, table, contract.lake_schema(), result.written):
        result.files_changed += 1
    result.deleted = sum(
        max(lake_counts.get(d, 0) - counts.get(d, 0), 0) for d in wanted if d in lake_counts
    )
    manifest.record(result.written)
    result.quarantined = sum(
        manifest.rows(path / lake.REJECTED_FILE)
        for path in lake.lake_partitions(settings, table).values()
    )
    return sampler
