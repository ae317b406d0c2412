"""The layout of the export tree: the contract between the exporter and the API that serves it.

``exports/`` writes ``$PETPRO_HOME/exports/<YYYY-MM-DD>/`` folders, each with a
``manifest.json`` whose ``files`` list holds one entry per report file, and points
``exports/latest`` at the newest; ``serving/`` lists and serves those files. Both sit on the same
floor, so the names they share — the folder pattern, the two file names and the manifest's file
entry — live here on the ground floor, and the API reads a manifest without importing the
export writer. An entry may carry more keys than :class:`ManifestFile` names (columns, filter,
sources, publication, ...); readers ignore what they do not need.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
LATEST = "latest"
DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class ManifestFile:
    """The facts every entry of ``manifest.json``'s ``files`` list carries about one file."""

    file: str  # "<report>.<format>", a name inside the folder
    report: str
    format: str
    rows: int
    bytes: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "report": self.report,
            "format": self.format,
            "rows": self.rows,
            "bytes": self.bytes,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, entry: object) -> ManifestFile | None:
        """The entry's facts, or None when it lacks one or names a path instead of a file."""
        if not isinstance(entry, dict):
            return None
        texts = [entry.get(k) for k in ("file", "report", "format", "sha256")]
        numbers = [entry.get(k) for k in ("rows", "bytes")]
        if not all(isinstance(v, str) and v for v in texts):
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers):
            return None
        name = str(entry["file"])
        if Path(name).name != name or name in (".", ".."):
            return None
        return cls(
            file=name,
            report=str(entry["report"]),
            format=str(entry["format"]),
            rows=int(entry["rows"]),
            bytes=int(entry["bytes"]),
            sha256=str(entry["sha256"]),
        )


@dataclass(frozen=True)
class ExportManifest:
    """A parsed ``manifest.json``: the whole document and its well-formed file entries."""

    document: dict[str, Any]
    files: tuple[ManifestFile, ...]


def read_manifest(folder: Path) -> ExportManifest | None:
    """The manifest of one export folder; None when it is missing or not a JSON object."""
    try:
        document = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(document, dict):
        return None
    entries = document.get("files")
    parsed = [ManifestFile.from_json(e) for e in entries] if isinstance(entries, list) else []
    return ExportManifest(document, tuple(f for f in parsed if f is not None))
