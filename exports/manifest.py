"""``manifest.json``: what an export folder holds and where every file came from.

For each file: report, format, file name, rows, columns with their SQL types, bytes, sha256,
the filter applied, the marts it was read from, the data high-water mark, the publication
(``run_id``/``published_at`` from the published ``_publication`` table) and ``generated_at``.
Apart from ``generated_at`` the manifest depends only on the publication and the selection, so
re-exporting the same publication for the same date gives the same manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from exports.layout import MANIFEST
from exports.published import Publication, ReportData
from exports.safety import DANGEROUS_FIRST_CHARACTERS

MANIFEST_VERSION = 1


def iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value.isoformat()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileFacts:
    """What the manifest records about one written file."""

    report: str
    format: str
    name: str
    rows: int
    bytes: int
    sha256: str


def file_entry(
    facts: FileFacts, data: ReportData, publication: Publication, generated_at: datetime
) -> dict[str, Any]:
    if data.report.mart is not None:
        source = publication.for_mart(data.report.mart)
        run_id, published_at, hwm = source.run_id, source.published_at, source.high_water_mark
    else:
        run_id, published_at = publication.run_id, publication.published_at
        hwm = publication.high_water_mark
    return {
        "file": facts.name,
        "report": facts.report,
        "format": facts.format,
        "rows": facts.rows,
        "columns": [
            {"name": name, "type": sql_type}
            for name, sql_type in zip(data.table.column_names, data.sql_types, strict=True)
        ],
        "bytes": facts.bytes,
        "sha256": facts.sha256,
        "filter": data.filter,
        "sources": list(data.sources),
        "high_water_mark": iso(hwm),
        "publication": {"run_id": run_id, "published_at": iso(published_at)},
        "generated_at": iso(generated_at),
    }


def build_manifest(
    *,
    report_date: date,
    timezone: str,
    publication: Publication,
    selection: dict[str, Any],
    entries: list[dict[str, Any]],
    generated_at: datetime,
) -> dict[str, Any]:
    return {
        "manifest_version": MANIFEST_VERSION,
        "report_date": report_date.isoformat(),
        "timezone": timezone,
        "generated_at": iso(generated_at),
        "publication": {
            "run_id": publication.run_id,
            "published_at": iso(publication.published_at),
            "high_water_mark": iso(publication.high_water_mark),
        },
        "selection": selection,
        "text_neutralised": {
            "formats": ["csv", "xlsx"],
            "first_characters": list(DANGEROUS_FIRST_CHARACTERS),
            "prefix": "'",
        },
        "files": entries,
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return path
