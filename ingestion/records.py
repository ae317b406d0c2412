"""What an ingestion run did: per-table results and the run record written after each run.

``TableResult`` collects the figures of one table (rows, files, quarantined rows, watermark,
quality); ``IngestionRun`` groups the tables of one run and is written as
``lake/_state/runs/<run_id>.json`` together with the contracts the run extracted with.
``IngestionError`` is what callers catch when a table could not be extracted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ingestion import lake
from ingestion.contracts import CONTRACTS, describe
from ingestion.quality import QualityResult
from petpro.errors import PetProError
from petpro.settings import Settings


class IngestionError(PetProError):
    """One or more tables could not be extracted; the message names them and why."""

    def __init__(self, message: str, run: IngestionRun | None = None) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class TableResult:
    table: str
    mode: str = "incremental"
    rows: int = 0
    files: int = 0
    files_changed: int = 0
    bytes: int = 0
    rejected: int = 0
    deleted: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    quality_seconds: float = 0.0
    watermark: datetime | None = None
    touched_dates: list[date] = field(default_factory=list)
    removed_dates: list[date] = field(default_factory=list)
    # Of those, the dates that only lost rows of customers erased from the source: rewritten
    # in the lake, but outside the dbt window (activity_stream._erased_only_dates).
    erased_dates: list[date] = field(default_factory=list)
    # Rows of those dates rewritten from the lake's own files, not extracted again.
    lake_rows: int = 0
    quality: QualityResult = field(default_factory=QualityResult)
    new_columns: list[str] = field(default_factory=list)
    # Lake files found corrupt before the run (and therefore re-extracted): "path: why".
    corrupt_files: list[str] = field(default_factory=list)
    # The verification before the run: files read in full, files skipped as unchanged.
    verified_files: int = 0
    unchanged_files: int = 0
    verify_seconds: float = 0.0
    # How the activity dates to re-extract were found: "changed" (counted over the touched
    # dates plus one total), "all" (every date counted: rows vanished somewhere), "none".
    date_scan: str = "none"
    # Rows held in the table's quarantine (_rejected files) after the run, all runs together.
    quarantined: int = 0
    error: str | None = None
    # Files the run wrote or removed, with their fingerprints (for the verification record).
    written: dict[Path, lake.Fingerprint | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "mode": self.mode,
            "rows": self.rows,
            "files": self.files,
            "files_changed": self.files_changed,
            "bytes": self.bytes,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
            "deleted": self.deleted,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "quality_seconds": round(self.quality_seconds, 3),
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "touched_dates": [d.isoformat() for d in self.touched_dates],
            "removed_dates": [d.isoformat() for d in self.removed_dates],
            "erased_dates": [d.isoformat() for d in self.erased_dates],
            "lake_rows": self.lake_rows,
            "quality": self.quality.to_dict(),
            "warnings": [f"new source column {c!r} ignored" for c in self.new_columns],
            "new_columns": self.new_columns,
            "corrupt_files": self.corrupt_files,
            "date_scan": self.date_scan,
            "verification": {
                "verified_files": self.verified_files,
                "unchanged_files": self.unchanged_files,
                "seconds": round(self.verify_seconds, 3),
            },
            "error": self.error,
        }

    def record_files(self, paths: list[tuple[Path, bool]]) -> None:
        """Count the files in place (and those changed) among ``(path, changed)``."""
        for path, changed in paths:
            if path.exists():
                self.files += 1
                self.bytes += path.stat().st_size
                self.files_changed += int(changed)


@dataclass
class IngestionRun:
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    full: bool = False
    dates: tuple[date, date] | None = None
    tables: dict[str, TableResult] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    record_path: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "full": self.full,
            "dates": [d.isoformat() for d in self.dates] if self.dates else None,
            "tables": {name: r.to_dict() for name, r in self.tables.items()},
            "errors": self.errors,
            "ok": self.ok,
        }


def new_run(*, full: bool, dates: tuple[date, date] | None) -> IngestionRun:
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    return IngestionRun(run_id=run_id, started_at=datetime.now(UTC), full=full, dates=dates)


def write_record(settings: Settings, run: IngestionRun) -> None:
    """Write the run record (atomically) and remember where it went."""
    path = settings.state_dir / "runs" / f"{run.run_id}.json"
    lake.write_json(
        path, run.to_dict() | {"contracts": {t: describe(CONTRACTS[t]) for t in run.tables}}
    )
    run.record_path = path
