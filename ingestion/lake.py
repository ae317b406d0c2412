"""Where raw files live in the lake and how they are put there without ever being half-written.

Every file is written under a hidden temporary name in its final directory (readers glob
``data.parquet`` and never see it), flushed with ``fsync``, then moved into place with
``os.replace`` and the directory entry fsynced too. If the new content is byte-for-byte the
file already in place, the old file is kept untouched (same inode, same mtime): re-running
an extraction rewrites nothing. ``ParquetSink`` streams Arrow data into such a file in
row groups of a fixed size, so a file's bytes depend only on its rows and their order, not
on how the rows arrived in batches. Every data page carries a CRC-32 checksum
(``write_page_checksum``), which ``integrity`` verifies before a run relies on a file.

Every table always has a readable file with the contract's schema, even with zero rows:
snapshot tables keep an empty ``data.parquet``, and the activity log, while it has no day
partition at all, holds an empty ``event_date=__HIVE_DEFAULT_PARTITION__/data.parquet`` (the
Hive name of a NULL partition value), so the readers' ``event_date=*/data.parquet`` glob
always matches a file.
"""

from __future__ import annotations

import contextlib
import filecmp
import hashlib
import json
import os
import shutil
import uuid
from collections import deque
from collections.abc import Iterator, MutableMapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.contracts import LOW_CARDINALITY
from petpro.durability import fsync_dir, fsync_file
from petpro.settings import Settings

DATA_FILE = "data.parquet"
# The Hive spelling of a NULL partition value: DuckDB and Spark read it as event_date NULL.
EMPTY_PARTITION = "event_date=__HIVE_DEFAULT_PARTITION__"
REJECTED_FILE = "_rejected.parquet"
TMP_SUFFIX = ".tmp"
# Rows per row group, fixed so a file's bytes are a function of its rows. 16,384 rather than
# 131,072: a day's rows are buffered until a row group fills, so with groups larger than a
# day (20,000+ rows a day at 10M activities) every day was held whole and peak memory grew
# with the table; with 16,384 a large day streams out in groups (docs/ingestion.md, "What
# the growth was").
ROW_GROUP_SIZE = 16_384
COMPRESSION = "zstd"


@dataclass(frozen=True)
class Fingerprint:
    """What a lake file was when ingestion wrote (or last fully verified) it.

    ``size``, ``mtime_ns``, ``ctime_ns`` and ``inode`` are its identity: any write to the file,
    a replacement, a copy or a restore changes at least one of them (the kernel sets
    ``ctime`` on every change and no system call can set it back, so even a rewrite that
    restores the old mtime shows). ``sha256`` is its content, compared by a full
    verification (``petpro ingest --verify-all``), which also catches damage that leaves
    the identity alone (the disk itself); ``rows`` saves reading the footer for counts.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str
    rows: int

    def same_identity(self, st: os.stat_result) -> bool:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ctime_ns,
            st.st_ino,
        )

    def to_list(self) -> list[int | str]:
        return [self.size, self.mtime_ns, self.ctime_ns, self.inode, self.sha256, self.rows]

    @classmethod
    def from_list(cls, values: list[int | str]) -> Fingerprint:
        size, mtime_ns, ctime_ns, inode, sha256, rows = values
        return cls(int(size), int(mtime_ns), int(ctime_ns), int(inode), str(sha256), int(rows))


# Files written or removed by a run (None: removed), recorded by whoever commits them.
Ledger = MutableMapping[Path, Fingerprint | None]


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file (hashlib releases the GIL while hashing, SHA-NI where present)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def fingerprint(path: Path, rows: int, sha256: str | None = None) -> Fingerprint:
    st = path.stat()
    return Fingerprint(
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
        sha256 if sha256 is not None else sha256_file(path),
        rows,
    )


def table_dir(settings: Settings, table: str) -> Path:
    return settings.raw_dir / table


def partition_dir(settings: Settings, table: str, day: date) -> Path:
    return table_dir(settings, table) / f"event_date={day.isoformat()}"


def partition_date(path: Path) -> date | None:
    """The event date of a ``event_date=YYYY-MM-DD`` directory (None for anything else)."""
    name = path.name
    if not name.startswith("event_date="):
        return None
    try:
        return date.fromisoformat(name.removeprefix("event_date="))
    except ValueError:
        return None


def lake_partitions(settings: Settings, table: str) -> dict[date, Path]:
    root = table_dir(settings, table)
    if not root.is_dir():
        return {}
    out: dict[date, Path] = {}
    for child in root.iterdir():
        day = partition_date(child)
        if day is not None and child.is_dir():
            out[day] = child
    return out


def parquet_rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows if path.exists() else 0


def tmp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{TMP_SUFFIX}")


def commit(
    tmp: Path,
    final: Path,
    pending_dirs: set[Path] | None = None,
    *,
    rows: int = 0,
    ledger: Ledger | None = None,
) -> bool:
    """Move a finished temporary file into place; return True if ``final`` changed.

    Identical content leaves the existing file alone, so idempotent re-runs touch nothing.
    The file is fsynced before the rename (never a renamed-but-empty file after a crash).
    With ``pending_dirs`` the directory fsync that makes the rename itself durable is left
    to the caller (``fsync_dirs`` before the watermark moves), which saves one fsync per
    partition: a rename lost in a crash only means the old file is still there, and the
    unmoved watermark makes the next run redo it.

    With ``ledger``, the file's fingerprint (identity after the rename, content digest,
    ``rows``) is recorded there, so the next run's verification can skip it.
    """
    # Hashed from the temporary file while it is still in the page cache.
    digest = sha256_file(tmp) if ledger is not None else None
    if (
        final.exists()
        and final.stat().st_size == tmp.stat().st_size
        and filecmp.cmp(tmp, final, shallow=False)
    ):
        tmp.unlink()
        changed = False
    else:
        fsync_file(tmp)
        os.replace(tmp, final)
        if pending_dirs is None:
            fsync_dir(final.parent)
        else:
            pending_dirs.add(final.parent)
        changed = True
    if ledger is not None:
        # Stat-ed after the rename: a rename changes the file's ctime.
        ledger[final] = fingerprint(final, rows, digest)
    return changed


def fsync_dirs(dirs: set[Path], threads: int = 1) -> None:
    """Fsync directories (concurrent fsyncs share journal commits, so ``threads`` > 1 makes
    hundreds of partition directories cost little more than one)."""
    existing = [d for d in sorted(dirs) if d.exists()]
    if threads > 1 and len(existing) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="petpro-fsync") as pool:
            list(pool.map(fsync_dir, existing))
    else:
        for directory in existing:
            fsync_dir(directory)
    dirs.clear()


def remove(path: Path, ledger: Ledger | None = None) -> bool:
    """Delete a file (fsyncing its directory); True if something was removed."""
    if ledger is not None:
        ledger[path] = None
    if not path.exists():
        return False
    path.unlink()
    fsync_dir(path.parent)
    return True


def remove_partition(directory: Path, ledger: Ledger | None = None) -> bool:
    """Remove a partition directory whose date has no rows any more."""
    if not directory.exists():
        return False
    # Data file first: a crash in between leaves an empty (ignored) directory, never a
    # directory whose data belongs to rows that no longer exist.
    for name in (DATA_FILE, REJECTED_FILE):
        remove(directory / name, ledger)
    shutil.rmtree(directory, ignore_errors=True)
    fsync_dir(directory.parent)
    return True


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def clean_tmp(root: Path) -> int:
    """Delete temporary files left by an interrupted run (call with the ingestion lock held)."""
    if not root.exists():
        return 0
    removed = 0
    for path in root.rglob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed += 1
    return removed


def dictionary_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if f.name in LOW_CARDINALITY]


def statistics_columns(schema: pa.Schema) -> list[str]:
    """Columns worth min/max statistics: everything but long free-form or random strings
    (keys, JSON, hashes), whose statistics cost encoding time and prune nothing."""
    skip = {"metadata", "description", "ip_hash", "cancellation_reason"}
    return [
        f.name
        for f in schema
        if f.name not in skip and not (pa.types.is_string(f.type) and f.name.endswith("id"))
    ]


def rejected_schema(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field("_reason", pa.string()))


class ParquetSink:
    """Stream Arrow batches into one Parquet file (zstd) in fixed-size row groups.

    Rows are buffered until a full row group is available, then written as one contiguous
    chunk; the file's bytes are therefore a function of its rows alone. ``close`` returns
    whether the final file changed; ``abort`` drops the temporary file.

    With an ``encoder`` executor, full row groups are encoded there instead of in the
    caller's thread, each task first waiting for the file's previous group so the groups
    land in order (the bytes are the same). The executor must run tasks in submission
    order (``ThreadPoolExecutor`` does), which is what keeps the wait from deadlocking: a
    group's predecessor was taken off the queue before it. At most ``PENDING`` groups per
    file wait for it, so a large day still never sits in memory whole.
    """

    PENDING = 2

    def __init__(
        self,
        final: Path,
        schema: pa.Schema,
        row_group_size: int = ROW_GROUP_SIZE,
        pending_dirs: set[Path] | None = None,
        copy: bool = False,
        keep_empty: bool = False,
        ledger: Ledger | None = None,
        encoder: Executor | None = None,
    ):
        self.encoder = encoder
        self._pending: deque[Future[None]] = deque()
        self.ledger = ledger
        self.copy = copy
        # With no rows, write a zero-row file with the schema instead of removing the file.
        self.keep_empty = keep_empty
        self.final = final
        self.pending_dirs = pending_dirs
        self.schema = schema
        self.row_group_size = row_group_size
        self.rows = 0
        self._buffer: list[pa.RecordBatch] = []
        self._buffered = 0
        self._writer: pq.ParquetWriter | None = None
        self._tmp: Path | None = None
        self._sealed = False

    def _open(self) -> pq.ParquetWriter:
        if self._writer is None:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = tmp_path(self.final)
            self._writer = pq.ParquetWriter(
                self._tmp,
                self.schema,
                compression=COMPRESSION,
                use_dictionary=dictionary_columns(self.schema),
                write_statistics=statistics_columns(self.schema),
                write_page_checksum=True,
            )
        return self._writer

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_rows == 0:
            return
        batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        if self.copy:
            # A slice pins its whole parent batch in memory until this file is closed;
            # a compact copy lets the parent go as soon as the stream moves on.
            batches = [pa.Table.from_batches([b]).take(np.arange(b.num_rows)).to_batches()[0]
                       for b in batches]  # fmt: skip
        self._buffer.extend(batches)
        self._buffered += batch.num_rows
        self.rows += batch.num_rows
        while self._buffered >= self.row_group_size:
            self._flush(self.row_group_size)

    def _flush(self, n: int, inline: bool = False) -> None:
        table = pa.Table.from_batches(self._buffer, schema=self.schema)
        head, rest = table.slice(0, n), table.slice(n)
        self._buffer = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._buffered = rest.num_rows
        writer = self._open()
        if self.encoder is None or inline:
            self._drain()
            writer.write_table(head.combine_chunks(), row_group_size=n)
            return
        while len(self._pending) >= self.PENDING:
            self._pending.popleft().result()
        previous = self._pending[-1] if self._pending else None
        self._pending.append(self.encoder.submit(_write_group, previous, writer, head, n))

    def _drain(self) -> None:
        """Wait until every group handed to the encoder is in the file (errors raise here)."""
        while self._pending:
            self._pending.popleft().result()

    def seal(self) -> None:
        """Encode the buffered rows and close the temporary file (CPU work, no fsync);
        ``commit`` then moves it into place (I/O work: compare, fsync, rename).

        The last group is encoded here, inline: ``seal`` may itself run on the encoder, and
        a task that queued more work on its own executor and waited for it could deadlock."""
        if self._buffered:
            self._flush(self._buffered, inline=True)
        self._drain()
        if self.keep_empty and self.rows == 0:
            self._open()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            self._sealed = True

    def commit(self) -> bool:
        """Put the sealed file in place; True if the file in place changed. With no rows at
        all the final file is removed instead (True if one existed)."""
        if not self._sealed:
            return remove(self.final, self.ledger)
        assert self._tmp is not None
        self._sealed = False
        return commit(self._tmp, self.final, self.pending_dirs, rows=self.rows, ledger=self.ledger)

    def close(self) -> bool:
        """Finish the file (``seal`` then ``commit``); True if the file in place changed."""
        self.seal()
        return self.commit()

    def abort(self) -> None:
        # The writer must not be closed under a group still being encoded into it.
        for pending in self._pending:
            with contextlib.suppress(BaseException):
                pending.result()
        self._pending.clear()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


def _write_group(
    previous: Future[None] | None, writer: pq.ParquetWriter, rows: pa.Table, n: int
) -> None:
    """Encode one row group on the encoder, after the file's previous group."""
    if previous is not None:
        previous.result()
    writer.write_table(rows.combine_chunks(), row_group_size=n)


@contextlib.contextmanager
def sink(
    final: Path, schema: pa.Schema, keep_empty: bool = False, ledger: Ledger | None = None
) -> Iterator[ParquetSink]:
    s = ParquetSink(final, schema, keep_empty=keep_empty, ledger=ledger)
    try:
        yield s
    except BaseException:
        s.abort()
        raise


def ensure_partition_glob(
    settings: Settings, table: str, schema: pa.Schema, ledger: Ledger | None = None
) -> bool:
    """Keep the ``event_date=*/data.parquet`` glob of a partitioned table matching a file:
    an empty placeholder partition while no day partition holds data, none otherwise.
    True if the placeholder was written or removed."""
    root = table_dir(settings, table)
    placeholder = root / EMPTY_PARTITION / DATA_FILE
    has_days = any(
        (path / DATA_FILE).exists() for path in lake_partitions(settings, table).values()
    )
    if has_days:
        if not placeholder.parent.exists():
            return False
        remove(placeholder, ledger)
        shutil.rmtree(placeholder.parent, ignore_errors=True)
        fsync_dir(root)
        return True
    with sink(placeholder, schema, keep_empty=True, ledger=ledger) as empty:
        return empty.close()
