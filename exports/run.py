"""``export_reports``: the one entry point that produces a folder of report files.

It reads every selected report from the published warehouse in one read-only connection (one
consistent publication), then, under the export-tree lock, writes each file into a hidden
staging folder, writes ``manifest.json``, and renames the folder into place; only after that
does it move ``exports/latest`` and prune folders beyond ``settings.export_retention``. A failure
anywhere before the rename deletes the staging folder and leaves the visible tree — the previous
folder of that date and ``latest`` — exactly as it was. With ``out_dir`` the folder goes there
instead (same staging-and-rename rule; no ``latest``, no pruning).

The stakeholder report is written once per edition (``stakeholder_report_monthly.pdf``,
``stakeholder_report_weekly.pdf``), each covering its last complete period as of the report
date. ``keep_other_files`` adds the selected files to the date's existing folder instead of
replacing it: the folder is still rebuilt under a temporary name (the files it keeps are
hard-linked, they are never modified in place) and swapped in whole, with a manifest listing
old and new files. The scheduled PDF editions use it so they do not remove the nightly
export's tables.

Called by the ``petpro export`` command and by the orchestration layer's ``report_exports``
asset; this module never imports Dagster.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from exports import layout, writers
from exports.errors import BadDateError
from exports.manifest import (
    build_manifest,
    document_entry,
    file_entry,
    sha256_of,
    write_manifest,
)
from exports.periods import GRAIN_OF_EDITION, resolve_editions
from exports.published import PublishedWarehouse, ReportData
from exports.reports import FORMATS, STAKEHOLDER_REPORT, Report, resolve_selection
from exports.stakeholder_data import StakeholderData, read_stakeholder_data
from exports.summary import build_executive_summary
from petpro.export_layout import ManifestFile, read_manifest
from petpro.publication import PublicationRecord
from petpro.settings import Settings


@dataclass(frozen=True)
class ExportedFile:
    """One file of an export, as recorded in its manifest."""

    report: str
    format: str
    path: Path
    rows: int
    bytes: int
    sha256: str
    edition: str | None = None  # the stakeholder report's edition (monthly, weekly)


@dataclass(frozen=True)
class ExportResult:
    """What ``export_reports`` produced."""

    folder: Path
    report_date: date
    manifest_path: Path
    files: list[ExportedFile]
    run_id: str
    published_at: datetime
    high_water_mark: datetime | None
    untouched_by_range: list[str] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)
    latest: Path | None = None
    documents: list[StakeholderData] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # files kept from the folder's previous export

    @property
    def total_rows(self) -> int:
        """Rows over the reports exported (each report counted once, not once per format)."""
        per_report: dict[str, int] = {}
        for f in self.files:
            per_report[f.report] = f.rows
        return sum(per_report.values())

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def pdf(self, edition: str) -> ExportedFile | None:
        """The stakeholder report of one edition, when this export wrote it."""
        return next((f for f in self.files if f.format == "pdf" and f.edition == edition), None)


def _check_range(date_from: date | None, date_to: date | None) -> None:
    if date_from and date_to and date_from > date_to:
        raise BadDateError(
            f"--from {date_from.isoformat()} is after --to {date_to.isoformat()}: "
            "give the earlier date first"
        )


def _report_date(
    settings: Settings, publication: PublicationRecord, report_date: date | None
) -> tuple[date, date | None]:
    hwm = publication.high_water_mark
    hwm_date = hwm.astimezone(settings.tz).date() if hwm is not None else None
    if report_date is None:
        anchor = hwm if hwm is not None else publication.published_at
        return anchor.astimezone(settings.tz).date(), hwm_date
    if hwm_date is not None and report_date > hwm_date:
        raise BadDateError(
            f"report date {report_date.isoformat()} is after the published data's high-water "
            f"mark ({hwm_date.isoformat()} in {settings.timezone}): pick an earlier --date or "
            "run `petpro refresh` first"
        )
    return report_date, hwm_date


@dataclass(frozen=True)
class _Planned:
    """One report to write: a table in its formats, or one stakeholder-report edition."""

    report: Report
    formats: list[str]
    table: ReportData | None = None
    document: StakeholderData | None = None


def pdf_name(edition: str) -> str:
    return f"{STAKEHOLDER_REPORT}_{edition}.pdf"


def _read_all(
    wh: PublishedWarehouse,
    selected: list[tuple[Report, list[str]]],
    editions: list[str],
    report_date: date,
    hwm_date: date | None,
    date_from: date | None,
    date_to: date | None,
    timezone: str,
) -> list[_Planned]:
    out = []
    for report, fmts in selected:
        if report.name == STAKEHOLDER_REPORT:
            for edition in editions:
                grain = GRAIN_OF_EDITION[edition]
                document = read_stakeholder_data(wh, edition, grain, report_date, timezone)
                out.append(_Planned(report, fmts, document=document))
        elif report.mart is None:
            out.append(_Planned(report, fmts, build_executive_summary(wh, report_date, hwm_date)))
        else:
            data = wh.read_report(report, date_from=date_from, date_to=date_to)
            out.append(_Planned(report, fmts, data))
    return out


def _write_folder(
    folder: Path,
    planned: list[_Planned],
    publication: PublicationRecord,
    generated_at: datetime,
    on_file: Callable[[ExportedFile], None] | None,
) -> tuple[list[tuple[ManifestFile, str | None]], list[dict]]:
    facts: list[tuple[ManifestFile, str | None]] = []
    entries: list[dict] = []

    def record(fact: ManifestFile, edition: str | None, entry: dict[str, Any]) -> None:
        facts.append((fact, edition))
        entries.append(entry)
        if on_file is not None:
            path = folder / fact.file
            on_file(
                ExportedFile(
                    fact.report, fact.format, path, fact.rows, fact.bytes, fact.sha256, edition
                )
            )

    for item in planned:
        if item.document is not None:
            from exports.stakeholder_pdf import write_stakeholder_pdf  # matplotlib: only if asked

            doc = item.document
            path = folder / pdf_name(doc.edition)
            pages = write_stakeholder_pdf(doc, path)
            fact = ManifestFile(
                file=path.name,
                report=item.report.name,
                format="pdf",
                rows=0,  # a document has pages, not rows: the entry says how many
                bytes=path.stat().st_size,
                sha256=sha256_of(path),
            )
            record(fact, doc.edition, document_entry(fact, doc, pages, publication, generated_at))
            continue
        data = item.table
        assert data is not None
        for fmt in item.formats:
            name = f"{data.report.name}.{fmt}"
            path = folder / name
            # Looked up at call time so a caller (or a test) can wrap one writer.
            writer = getattr(writers, f"write_{fmt}")
            writer(data, path, stamp=publication.published_at)
            fact = ManifestFile(
                file=name,
                report=data.report.name,
                format=fmt,
                rows=data.table.num_rows,
                bytes=path.stat().st_size,
                sha256=sha256_of(path),
            )
            record(fact, None, file_entry(fact, data, publication, generated_at))
    return facts, entries


def _keep_previous(final: Path, tmp: Path, written: set[str]) -> list[dict[str, Any]]:
    """Hard-link the files of ``final``'s manifest that this export does not rewrite."""
    previous = read_manifest(final) if final.is_dir() else None
    if previous is None:
        return []
    listed = {f.file for f in previous.files}
    kept = []
    for entry in previous.document.get("files", []):
        name = entry.get("file") if isinstance(entry, dict) else None
        if name not in listed or name in written or not (final / name).is_file():
            continue
        try:
            os.link(final / name, tmp / name)
        except OSError:  # a file system without hard links: copy instead
            shutil.copy2(final / name, tmp / name)
        kept.append(entry)
    return kept


def export_reports(
    settings: Settings,
    *,
    report_date: date | None = None,
    reports: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
    editions: Sequence[str] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    out_dir: Path | None = None,
    keep_other_files: bool = False,
    on_file: Callable[[ExportedFile], None] | None = None,
) -> ExportResult:
    """Export the selected reports of the current publication; see the module docstring.

    ``report_date`` names the dated folder, sets the executive summary's month and the date the
    stakeholder report's editions are complete by (default: the publication high-water mark's
    date in ``PETPRO_TIMEZONE``). ``date_from``/``date_to`` (inclusive) filter time-grained
    reports on their period column; the other reports are exported whole (listed in
    ``ExportResult.untouched_by_range``). ``editions`` picks the stakeholder report's editions
    (default both). ``keep_other_files`` keeps the files of the date's previous export that
    this one does not rewrite. ``on_file`` is called after each file is written (progress bars).
    """
    selected = resolve_selection(reports, formats)
    chosen_editions = resolve_editions(list(editions) if editions else None)
    _check_range(date_from, date_to)

    with PublishedWarehouse(settings) as wh:
        publication = wh.publication
        report_date, hwm_date = _report_date(settings, publication, report_date)
        planned = _read_all(
            wh,
            selected,
            chosen_editions,
            report_date,
            hwm_date,
            date_from,
            date_to,
            settings.timezone,
        )

    ranged = date_from is not None or date_to is not None
    untouched = [
        r.name
        for r, _ in selected
        if ranged and not r.time_grained and r.name != STAKEHOLDER_REPORT
    ]
    fmts = sorted({f for _, fs in selected for f in fs}, key=FORMATS.index)
    selection: dict[str, Any] = {
        "reports": [r.name for r, _ in selected],
        "formats": fmts,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
    }
    if any(r.name == STAKEHOLDER_REPORT for r, _ in selected):
        selection["editions"] = chosen_editions
    generated_at = datetime.now(UTC)
    kept: list[str] = []

    def build(final: Path) -> tuple[list[tuple[ManifestFile, str | None]], Path]:
        tmp = layout.staging_dir(final)
        try:
            facts, entries = _write_folder(tmp, planned, publication, generated_at, on_file)
            if keep_other_files:
                previous = _keep_previous(final, tmp, {f.file for f, _ in facts})
                kept.extend(e["file"] for e in previous)
                entries = previous + entries
            write_manifest(
                tmp,
                build_manifest(
                    report_date=report_date,
                    timezone=settings.timezone,
                    publication=publication,
                    selection=selection,
                    entries=entries,
                    generated_at=generated_at,
                ),
            )
            layout.swap_into_place(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return facts, final / layout.MANIFEST

    pruned: list[Path] = []
    latest: Path | None = None
    if out_dir is None:
        exports_dir = settings.exports_dir
        final = exports_dir / report_date.isoformat()
        with layout.tree_lock(exports_dir):
            layout.remove_leftovers(exports_dir)
            facts, manifest_path = build(final)
            latest = layout.update_latest(exports_dir)
            pruned = layout.prune(exports_dir, settings.export_retention, protect=final)
    else:
        final = Path(out_dir).expanduser().resolve()
        layout.check_replaceable(final)
        facts, manifest_path = build(final)

    files = [
        ExportedFile(f.report, f.format, final / f.file, f.rows, f.bytes, f.sha256, edition)
        for f, edition in facts
    ]
    return ExportResult(
        folder=final,
        report_date=report_date,
        manifest_path=manifest_path,
        files=files,
        run_id=publication.run_id,
        published_at=publication.published_at,
        high_water_mark=publication.high_water_mark,
        untouched_by_range=untouched,
        pruned=pruned,
        latest=latest,
        documents=[p.document for p in planned if p.document is not None],
        kept=kept,
    )


def parse_date(value: str, option: str) -> date:
    """Parse a YYYY-MM-DD option value, with a one-line error naming the option."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadDateError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD (e.g. 2024-03-31)"
        ) from None
