"""Writing an ordered activity stream into daily partitions, encoding and committing in parallel.

Each row's event date comes with the stream (computed by PostgreSQL, see ``activity_stream``)
rather than being recomputed here, so the partition a row lands in is the date the planner
counted it under.

``PartitionWriter`` receives converted batches ordered by event time and writes each event
date's rows (and quarantined rows) into ``event_date=YYYY-MM-DD/data.parquet`` (and
``_rejected.parquet``); a partition is always replaced whole. Encoding runs in a small
thread pool and committing (compare, fsync, rename) in a wider I/O pool, so the stream
never waits for the disk.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from ingestion import lake
from ingestion.contracts import TableContract
from ingestion.records import TableResult
from petpro.settings import Settings


def day_numbers(days: pa.Array) -> np.ndarray:
    """Days since the epoch (int32) of a date32 array."""
    return days.cast(pa.int32()).to_numpy(zero_copy_only=False)


def _runs(days: np.ndarray) -> list[tuple[int, int, int]]:
    """(day, start, stop) of each run of equal values in an array."""
    if len(days) == 0:
        return []
    cuts = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate(([0], cuts))
    stops = np.concatenate((cuts, [len(days)]))
    return [(int(days[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


_EPOCH = date(1970, 1, 1)


class PartitionWriter:
    """Writes the partitions of an ordered activity stream, one date at a time.

    A finished partition is encoded into its temporary file by a small thread pool while
    the stream moves on to the next date (pyarrow releases the GIL while encoding); at most
    ``IN_FLIGHT`` partitions wait in memory. The full row groups of a large day go to the
    same pool as they fill, in order (``lake.ParquetSink``), so this thread only converts
    and slices, whatever the size of a day. Committing a sealed file (compare, fsync,
    rename) holds no Arrow memory and mostly waits on the disk, so it runs in a separate,
    wider I/O pool: concurrent fsyncs share ext4 journal commits instead of queueing behind
    each other, and the encoders never wait for the disk.
    """

    IN_FLIGHT = 4
    ENCODERS = 2
    IO_THREADS = 8

    def __init__(self, settings: Settings, contract: TableContract, result: TableResult) -> None:
        self.pending_dirs: set[Path] = set()
        self.settings = settings
        self.contract = contract
        self.result = result
        self.schema = contract.lake_schema()
        self.rejected_schema = lake.rejected_schema(self.schema)
        self.current: date | None = None
        self.data: lake.ParquetSink | None = None
        self.rejected: lake.ParquetSink | None = None
        self.written: list[date] = []
        self.day_rows: dict[date, int] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=self.ENCODERS, thread_name_prefix="petpro-encode"
        )
        self._io = ThreadPoolExecutor(
            max_workers=self.IO_THREADS, thread_name_prefix="petpro-commit"
        )
        self._encoding: deque[tuple[date, lake.ParquetSink, lake.ParquetSink, Future[Any]]] = (
            deque()
        )
        self._committing: deque[
            tuple[date, lake.ParquetSink, lake.ParquetSink, Future[tuple[bool, bool]]]
        ] = deque()

    def _switch(self, day: date) -> None:
        if self.current == day:
            return
        self._finish_current()
        directory = lake.partition_dir(self.settings, self.contract.table, day)
        self.current = day
        self.data = lake.ParquetSink(
            directory / lake.DATA_FILE,
            self.schema,
            pending_dirs=self.pending_dirs,
            ledger=self.result.written,
            encoder=self._pool,
        )
        self.rejected = lake.ParquetSink(
            directory / lake.REJECTED_FILE,
            self.rejected_schema,
            pending_dirs=self.pending_dirs,
            ledger=self.result.written,
        )

    def write(self, batch: pa.RecordBatch, days: pa.Array, rejected: bool) -> None:
        """Write rows ordered by event date; ``days``: each row's event date (date32)."""
        for day_number, start, stop in _runs(day_numbers(days)):
            day = _EPOCH + timedelta(days=day_number)
            if self.current is not None and day < self.current and not rejected:
                raise RuntimeError("activity stream is not ordered by event date")
            self._switch(day)
            sink = self.rejected if rejected else self.data
            assert sink is not None
            # A zero-copy slice: it pins its parent batch only until this partition is
            # encoded (at most IN_FLIGHT + 1 partitions, a few batches).
            sink.write(batch.slice(start, stop - start))

    @staticmethod
    def _seal(data: lake.ParquetSink, rejected: lake.ParquetSink) -> None:
        data.seal()
        rejected.seal()

    @staticmethod
    def _commit(data: lake.ParquetSink, rejected: lake.ParquetSink) -> list[tuple[int, bool]]:
        """Commit both files; (size or -1 if absent, changed) of each, stat-ed here so the
        writer thread never waits on the file system."""
        out = []
        for sink in (data, rejected):
            changed = sink.commit()
            try:
                size = sink.final.stat().st_size
            except FileNotFoundError:
                size = -1
            out.append((size, changed))
        return out

    def _finish_current(self) -> None:
        if self.current is None:
            return
        assert self.data is not None and self.rejected is not None
        future = self._pool.submit(self._seal, self.data, self.rejected)
        self._encoding.append((self.current, self.data, self.rejected, future))
        self.current, self.data, self.rejected = None, None, None
        while len(self._encoding) > self.IN_FLIGHT:
            self._sealed()
        # Collect finished commits as we go (errors surface early, the deque stays short).
        while self._committing and self._committing[0][3].done():
            self._collect()

    def _sealed(self) -> None:
        """Wait for the oldest encoding partition, then hand it to the I/O pool."""
        day, data, rejected, future = self._encoding.popleft()
        future.result()
        self._committing.append(
            (day, data, rejected, self._io.submit(self._commit, data, rejected))
        )

    def _collect(self) -> None:
        day, data, rejected, future = self._committing.popleft()
        files = future.result()
        self.result.rows += data.rows
        self.result.rejected += rejected.rows
        self.day_rows[day] = self.day_rows.get(day, 0) + data.rows + rejected.rows
        for size, changed in files:
            if size >= 0:
                self.result.files += 1
                self.result.bytes += size
                self.result.files_changed += int(changed)
        self.written.append(day)

    def finish(self) -> None:
        """Commit every partition (the current one and those still being encoded)."""
        self._finish_current()
        while self._encoding:
            self._sealed()
        while self._committing:
            self._collect()
        self._pool.shutdown()
        self._io.shutdown()

    def abort(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._io.shutdown(wait=True, cancel_futures=True)
        for _, data, rejected, _ in (*self._encoding, *self._committing):
            data.abort()
            rejected.abort()
        for sink in (self.data, self.rejected):
            if sink is not None:
                sink.abort()


def write_mixed(
    writer: PartitionWriter,
    accepted: pa.RecordBatch,
    accepted_days: pa.Array,
    rejected: pa.RecordBatch,
    rejected_days: pa.Array,
) -> None:
    """Write a batch's accepted and rejected rows partition by partition, in date order."""
    acc_days = day_numbers(accepted_days)
    rej_days = day_numbers(rejected_days)
    for day in sorted(set(acc_days.tolist()) | set(rej_days.tolist())):
        acc_mask = pa.array(acc_days == day)
        rej_mask = pa.array(rej_days == day)
        acc = accepted.filter(acc_mask)
        rej = rejected.filter(rej_mask)
        if acc.num_rows:
            writer.write(acc, accepted_days.filter(acc_mask), rejected=False)
        if rej.num_rows:
            writer.write(rej, rejected_days.filter(rej_mask), rejected=True)
