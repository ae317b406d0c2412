"""``manifest.json``: what an export folder holds and where every file came from.

For each file: the facts of :class:`petpro.export_layout.ManifestFile` (file name, report,
format, rows, bytes, sha256 — the part the API reads), then the columns with their SQL types,
the filter applied, the marts it was read from, the data high-water mark, the publication
(``run_id``/``published_at`` of the publication record) and ``generated_at``. A PDF entry has
``rows: 0`` and, instead of columns and filter, its ``edition``, ``period`` and ``pages``. Apart from
``generated_at`` the manifest depends only on the publication and the selection, so
re-exporting the same publication for the same date gives the same manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from exports.published import ReportData
from exports.safety import DANGEROUS_FIRST_CHARACTERS, LEADING_WHITESPACE
from exports.stakeholder_data import StakeholderData
from petpro.export_layout import MANIFEST, ManifestFile
from petpro.publication import PublicationRecord

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


def file_entry(
    facts: ManifestFile, data: ReportData, publication: PublicationRecord, generated_at: datetime
) -> dict[str, Any]:
    return {
        **facts.to_json(),
        "columns": [
            {"name": name, "type": sql_type}
            for name, sql_type in zip(data.table.column_names, data.sql_types, strict=True)
        ],
        "filter": data.filter,
        "sources": list(data.sources),
        "high_water_mark": iso(publication.high_water_mark),
        "publication": {
            "run_id": publication.run_id,
            "published_at": iso(publication.published_at),
        },
        "generated_at": iso(generated_at),
    }


def document_entry(
    facts: ManifestFile,
    data: StakeholderData,
    pages: int,
    publication: PublicationRecord,
    generated_at: datetime,
) -> dict[str, Any]:
    return {
        **facts.to_json(),
        "edition": data.edition,
        "period": {
            "grain": data.period.grain,
            "start": iso(data.period.start),
            "end": iso(data.period.end),
            "label": data.period.label,
        },
        "pages": pages,
        "sources": list(data.sources),
        "high_water_mark": iso(publication.high_water_mark),
        "publication": {
            "run_id": publication.run_id,
            "published_at": iso(publication.published_at),
        },
        "generated_at": iso(generated_at),
    }


def build_manifest(
    *,
    report_date: date,
    timezone: str,
    publication: PublicationRecord,
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
            "after_leading": list(LEADING_WHITESPACE),
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
