"""Report downloads: the export manifests, and the safe resolution of a requested file.

Report files live in ``$PETPRO_HOME/exports/<YYYY-MM-DD>/`` with a ``manifest.json`` listing
each file and its SHA-256; ``exports/latest`` points at the newest complete folder. A
download request names a date and ``<report>.<ext>``: the date must match ``YYYY-MM-DD``
(or be ``latest``) and be an existing export folder, and the file name must be listed in
that folder's manifest — the request never becomes a path by itself, so ``..`` or absolute
paths cannot reach anything else. The folder names and the manifest's file entries are read
with :mod:`petpro.export_layout`, the layout the exporter writes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from petpro.export_layout import DATED, LATEST, MANIFEST, read_manifest

DATE_RE = DATED
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*\.(csv|parquet|xlsx|pdf)$")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class ReportFile:
    date: str
    name: str  # "<report>.<ext>"
    report: str
    format: str
    sha256: str
    size: int | None
    rows: int | None
    path: Path

    @property
    def download_name(self) -> str:
        """``<file stem>-<date>.<ext>``: unique per file (the two PDF editions share a report)."""
        return f"{Path(self.name).stem}-{self.date}.{self.format}"

    def describe(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "format": self.format,
            "file": self.name,
            "sha256": self.sha256,
            "bytes": self.size,
            "rows": self.rows,
            "url": f"/reports/{self.date}/{self.name}",
        }


def export_dates(exports_dir: Path) -> list[str]:
    """Dates of export folders that hold a manifest, newest first."""
    if not exports_dir.is_dir():
        return []
    return sorted(
        (
            p.name
            for p in exports_dir.iterdir()
            if DATE_RE.match(p.name) and not p.is_symlink() and (p / MANIFEST).is_file()
        ),
        reverse=True,
    )


def latest_date(exports_dir: Path) -> str | None:
    """The folder ``exports/latest`` points at (or the newest date when the link is missing)."""
    link = exports_dir / LATEST
    if link.is_symlink() or link.is_dir():
        name = Path(os.path.realpath(link)).name
        if DATE_RE.match(name) and (exports_dir / name / MANIFEST).is_file():
            return name
    dates = export_dates(exports_dir)
    return dates[0] if dates else None


def load_manifest(exports_dir: Path, date: str) -> tuple[dict[str, Any], dict[str, ReportFile]]:
    """The manifest of one export folder and its files by name; ({}, {}) when absent."""
    if not DATE_RE.match(date):
        return {}, {}
    folder = exports_dir / date
    manifest = read_manifest(folder)
    if manifest is None:
        return {}, {}
    files = {
        f.file: ReportFile(
            date=date,
            name=f.file,
            report=f.report,
            format=f.format,
            sha256=f.sha256.lower(),
            size=f.bytes,
            rows=f.rows,
            path=folder / f.file,
        )
        for f in manifest.files
        if NAME_RE.match(f.file)
    }
    return manifest.document, files


def resolve(exports_dir: Path, date: str, filename: str) -> ReportFile | None:
    """The listed, existing file for a download request, or None (→ 404)."""
    if date == "latest":
        date = latest_date(exports_dir) or ""
    if not DATE_RE.match(date) or not NAME_RE.match(filename):
        return None
    _, files = load_manifest(exports_dir, date)
    found = files.get(filename)
    if found is None:
        return None
    root = (exports_dir / date).resolve()
    real = found.path.resolve()
    if real.parent != root or not real.is_file():  # symlinked elsewhere or missing: refuse
        return None
    return found
