"""Report downloads: the export manifests, and the safe resolution of a requested file.

Report files live in ``$PETPRO_HOME/exports/<YYYY-MM-DD>/`` with a ``manifest.json`` listing
each file and its SHA-256; ``exports/latest`` points at the newest complete folder. A
download request names a date and ``<report>.<ext>``: the date must match ``YYYY-MM-DD``
(or be ``latest``) and be an existing export folder, and the file name must be listed in
that folder's manifest — the request never becomes a path by itself, so ``..`` or absolute
paths cannot reach anything else. The manifest reader accepts the file entries wherever they
sit in the JSON (any object with a file name ending in .csv/.parquet/.xlsx and a SHA-256),
so it does not depend on the exact manifest layout.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*\.(csv|parquet|xlsx)$")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_NAME_KEYS = ("file", "filename", "path", "name")
_SHA_KEYS = ("sha256", "checksum_sha256", "sha256_hex", "checksum")


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
            if DATE_RE.match(p.name) and not p.is_symlink() and (p / "manifest.json").is_file()
        ),
        reverse=True,
    )


def latest_date(exports_dir: Path) -> str | None:
    """The folder ``exports/latest`` points at (or the newest date when the link is missing)."""
    link = exports_dir / "latest"
    if link.is_symlink() or link.is_dir():
        name = Path(os.path.realpath(link)).name
        if DATE_RE.match(name) and (exports_dir / name / "manifest.json").is_file():
            return name
    dates = export_dates(exports_dir)
    return dates[0] if dates else None


def _walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        name = next((node[k] for k in _NAME_KEYS if isinstance(node.get(k), str)), None)
        sha = next((node[k] for k in _SHA_KEYS if isinstance(node.get(k), str)), None)
        if name and sha and NAME_RE.match(Path(name).name):
            found.append(node)
        for value in node.values():
            if isinstance(value, dict | list):
                found.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_walk(value))
    return found


def load_manifest(exports_dir: Path, date: str) -> tuple[dict[str, Any], dict[str, ReportFile]]:
    """The manifest of one export folder and its files by name; ({}, {}) when absent."""
    if not DATE_RE.match(date):
        return {}, {}
    folder = exports_dir / date
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}, {}
    files: dict[str, ReportFile] = {}
    for entry in _walk(manifest):
        raw = next(entry[k] for k in _NAME_KEYS if isinstance(entry.get(k), str))
        name = Path(raw).name
        report, _, ext = name.rpartition(".")
        sha = next(entry[k] for k in _SHA_KEYS if isinstance(entry.get(k), str))
        size = entry.get("bytes", entry.get("size"))
        rows = entry.get("rows", entry.get("row_count"))
        files[name] = ReportFile(
            date=date,
            name=name,
            report=str(entry.get("report", report))
            if isinstance(entry.get("report"), str)
            else report,
            format=ext,
            sha256=sha.removeprefix("sha256:").lower(),
            size=size if isinstance(size, int) else None,
            rows=rows if isinstance(rows, int) else None,
            path=folder / name,
        )
    return manifest, files


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
