"""Detecting corrupt lake files before anything relies on them.

Lake files carry a CRC-32 per data page (written by ``lake.ParquetSink``). DuckDB, which dbt
reads the lake with, does not verify those checksums, so a flipped bit inside a page would
surface later as wrong values or a misleading test failure. Ingestion therefore reads every
Parquet file of a table with page-checksum verification at the start of each run of that
table (under the table's lock), which also catches truncated or zeroed files (no footer).
A corrupt file is named (table, file and why) in the run and re-extracted from the source:
the whole table for a snapshot table, its day for an activity partition.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion import lake
from petpro.errors import PetProError
from petpro.settings import Settings


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


def verify_file(path: Path) -> str | None:
    """None if every page of ``path`` decodes and matches its checksum, else why not."""
    try:
        parquet = pq.ParquetFile(path, page_checksum_verification=True)
        for group in range(parquet.metadata.num_row_groups):
            parquet.read_row_group(group)
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException, ValueError) as exc:
        return _why(exc)
    return None


def read_verified(table: str, path: Path, schema: pa.Schema) -> pa.Table:
    """Read a lake file with page-checksum verification (an empty table if absent)."""
    if not path.exists():
        return schema.empty_table()
    try:
        return (
            pq.read_table(path, page_checksum_verification=True).select(schema.names).cast(schema)
        )
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


def corrupt_files(settings: Settings, table: str, threads: int = 2) -> dict[Path, str]:
    """Every file of ``table`` that fails verification, with why (pyarrow releases the GIL
    while decoding, so two threads use both cores)."""
    files = table_files(settings, table)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="petpro-verify") as pool:
        verdicts = list(pool.map(verify_file, files))
    return {path: why for path, why in zip(files, verdicts, strict=True) if why is not None}
