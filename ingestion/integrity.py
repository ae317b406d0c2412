"""Detecting corrupt lake files before anything relies on them, at the cost of what changed.

Lake files carry a CRC-32 per data page (written by ``lake.ParquetSink``). DuckDB, which dbt
reads the lake with, does not verify those checksums, so a flipped bit inside a page would
surface later as wrong values or a misleading test failure. Ingestion therefore verifies a
table's files at the start of each run of that table (under the table's lock).

Verifying means decoding every page against its CRC, which also catches truncated or zeroed
files (no footer); it costs as much as reading the table, so it is done only where something
may have changed. Each file's ``lake.Fingerprint`` (identity: size, mtime, ctime, inode; plus
its SHA-256 and row count) is recorded in ``lake/_state/<table>.files.json`` when ingestion
writes the file or has verified it. A run verifies fully only the files without a record or
whose identity differs from it: anything that wrote to, replaced, truncated, copied or
restored a file changed its identity (the kernel moves ``ctime`` on every change and nothing
can set it back). What an identity cannot show is damage below the file system (a disk
flipping a bit in place); ``verify_all`` (``petpro ingest --verify-all``) hashes every file
and compares it with its recorded digest, catching that too (and any byte of the footer,
which page CRCs do not cover). A corrupt file is named (table, file and why) in the run and
re-extracted from the source: the whole table for a snapshot table, its day for an activity
partition.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import lake
from ingestion.lake import Fingerprint, Ledger
from petpro.errors import PetProError
from petpro.settings import Settings

MANIFEST_VERSION = 1


class LakeCorruptError(PetProError):
    """A lake file failed verification; the message names the table and the file."""

    def __init__(self, table: str, path: Path, why: str) -> None:
        self.table, self.path, self.why = table, path, why
        super().__init__(
            f"corrupt lake file for table {table!r}: {path} ({why}); "
            f"run `petpro ingest --tables {table} --full` to rebuild it from the source"
        )


def _why(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def verify_pages(path: Path) -> tuple[int, str | None]:
    """(rows, None) if every page of ``path`` decodes and matches its checksum, else
    (0, why not)."""
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
        for group in range(parquet.metadata.num_row_groups):
            parquet.read_row_group(group)
        return parquet.metadata.num_rows, None
    except (OSError, pa.ArrowException, ValueError) as exc:
        return 0, _why(exc)


def read_verified(
    table: str, path: Path, schema: pa.Schema, columns: Sequence[str] | None = None
) -> pa.Table:
    """Read a lake file with page-checksum verification (an empty table if absent);
    ``columns``: only those (verified as they are read)."""
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    if not path.exists():
        return schema.empty_table()
    try:
        return (
            pq.read_table(path, columns=schema.names, page_checksum_verification=True)
            .select(schema.names)
            .cast(schema)
        )
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise LakeCorruptError(table, path, _why(exc)) from exc


def iter_verified(table: str, path: Path, schema: pa.Schema) -> Iterator[pa.Table]:
    """:func:`read_verified` one row group at a time (nothing if the file is absent), for
    a pass over a table larger than what should sit in memory at once."""
    if not path.exists():
        return
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
        for group in range(parquet.metadata.num_row_groups):
            yield parquet.read_row_group(group).select(schema.names).cast(schema)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise LakeCorruptError(table, path, _why(exc)) from exc


def table_files(settings: Settings, table: str) -> list[Path]:
    root = lake.table_dir(settings, table)
    if not root.is_dir():
        return []
    files = [root / lake.DATA_FILE, root / lake.REJECTED_FILE]
    for directory in root.glob("event_date=*"):
        files += [directory / lake.DATA_FILE, directory / lake.REJECTED_FILE]
    return sorted(path for path in files if path.is_file())


def manifest_path(settings: Settings, table: str) -> Path:
    return settings.state_dir / f"{table}.files.json"


class Manifest:
    """The recorded fingerprints of one table's lake files (paths relative to its directory)."""

    def __init__(self, settings: Settings, table: str, entries: dict[str, Fingerprint]) -> None:
        self.path = manifest_path(settings, table)
        self.root = lake.table_dir(settings, table)
        self.entries = entries
        self._dirty = False

    @classmethod
    def load(cls, settings: Settings, table: str) -> Manifest:
        """The table's manifest; empty (everything gets verified) when missing or unreadable."""
        entries: dict[str, Fingerprint] = {}
        try:
            payload = lake.read_json(manifest_path(settings, table))
        except ValueError:  # a damaged manifest only costs one full verification
            payload = None
        if payload and payload.get("version") == MANIFEST_VERSION:
            for name, values in (payload.get("files") or {}).items():
                try:
                    entries[name] = Fingerprint.from_list(values)
                except (TypeError, ValueError):
                    continue
        return cls(settings, table, entries)

    def key(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def get(self, path: Path) -> Fingerprint | None:
        return self.entries.get(self.key(path))

    def set(self, path: Path, entry: Fingerprint | None) -> None:
        key = self.key(path)
        if entry is None:
            self._dirty |= self.entries.pop(key, None) is not None
        elif self.entries.get(key) != entry:
            self.entries[key] = entry
            self._dirty = True

    def record(self, ledger: Ledger) -> None:
        """Take in what a run wrote (and removed)."""
        for path, entry in list(ledger.items()):
            self.set(path, entry)

    def rows(self, path: Path) -> int:
        """Rows of a lake file: from its record when the file is the one recorded (no footer
        read), else from its footer; 0 if absent."""
        entry = self.get(path)
        if entry is not None:
            try:
                if entry.same_identity(path.stat()):
                    return entry.rows
            except FileNotFoundError:
                return 0
        return lake.parquet_rows(path)

    def save(self) -> None:
        if not self._dirty:
            return
        files = {name: self.entries[name].to_list() for name in sorted(self.entries)}
        lake.write_json(self.path, {"version": MANIFEST_VERSION, "files": files})
        self._dirty = False


@dataclass
class Verification:
    """What a verification found and what it cost."""

    corrupt: dict[Path, str] = field(default_factory=dict)
    verified: int = 0  # files read in full (pages decoded, or hashed with verify_all)
    unchanged: int = 0  # files skipped: identical identity to their record
    seconds: float = 0.0


def _check(path: Path, entry: Fingerprint | None, full: bool) -> tuple[Fingerprint | None, str]:
    """(fingerprint to record or None, why it is corrupt or "")."""
    try:
        before = path.stat()
    except FileNotFoundError:
        return None, ""
    if entry is not None and entry.same_identity(before):
        if full:
            if lake.sha256_file(path) == entry.sha256:
                return entry, ""
            rows, why = verify_pages(path)
            return None, why or (
                "its bytes differ from those ingestion wrote (SHA-256 mismatch) while its "
                "size, times and inode did not change: damaged below the file system"
            )
        return entry, ""
    digest = lake.sha256_file(path)
    rows, why = verify_pages(path)
    if why is not None:
        return None, why
    after = os.stat(path)
    fingerprint = Fingerprint(
        after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, digest, rows
    )
    # Changed while being read: leave it unrecorded, the next run verifies it again.
    return (fingerprint if fingerprint.same_identity(before) else None), ""


def verify_table(
    settings: Settings, table: str, *, verify_all: bool = False, threads: int = 2
) -> tuple[Verification, Manifest]:
    """Verify the table's files that may have changed since recorded (every file with
    ``verify_all``); record the good ones in the manifest (saved) and return it with the
    verdict. Two threads use both cores (pyarrow and hashlib release the GIL)."""
    started = time.perf_counter()
    manifest = Manifest.load(settings, table)
    files = table_files(settings, table)
    present = {manifest.key(path) for path in files}
    for name in [n for n in manifest.entries if n not in present]:
        manifest.set(manifest.root / name, None)
    result = Verification()
    todo: list[tuple[Path, Fingerprint | None]] = []
    for path in files:
        entry = manifest.get(path)
        try:
            unchanged = entry is not None and entry.same_identity(path.stat())
        except FileNotFoundError:
            continue
        if unchanged and not verify_all:
            result.unchanged += 1
        else:
            todo.append((path, entry))
    if todo:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="petpro-verify") as pool:
            verdicts = list(pool.map(lambda item: _check(item[0], item[1], verify_all), todo))
        for (path, _), (entry, why) in zip(todo, verdicts, strict=True):
            result.verified += 1
            manifest.set(path, entry)
            if why:
                result.corrupt[path] = why
    manifest.save()
    result.seconds = time.perf_counter() - started
    return result, manifest
