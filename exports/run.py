"""``export_reports``: the one entry point that produces a folder of report files.

It reads every selected report from the published warehouse in one read-only connection (one
consistent publication), then, under the export-tree lock, writes each file into a hidden
staging folder, writes ``manifest.json``, and renames the folder into place; only after that
does it move ``exports/latest`` and prune folders beyond ``settings.export_retention``. A failure
anywhere before the rename deletes the staging folder and leaves the visible tree — the previous
folder of that date and ``latest`` — exactly as it was. With ``out_dir`` the folder goes there
instead (same staging-and-rename rule; no ``latest``, no pruning).

Called by the ``petpro export`` command and by the orchestration layer's ``report_exports``
asset; this module never imports Dagster.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from exports import layout, writers
from exports.errors import BadDateError
from exports.manifest import build_manifest, file_entry, sha256_of, write_manifest
from exports.published import PublishedWarehouse, ReportData
from exports.reports import FORMATS, Report, resolve_formats, resolve_reports
from exports.summary import build_executive_summary
from petpro.export_layout import ManifestFile
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


def _read_all(
    wh: PublishedWarehouse,
    selected: list[Report],
    report_date: date,
    hwm_date: date | None,
    date_from: date | None,
    date_to: date | None,
) -> list[ReportData]:
    out = []
    for report in selected:
        if report.mart is None:
            out.append(build_executive_summary(wh, report_date, hwm_date))
        else:
            out.append(wh.read_report(report, date_from=date_from, date_to=date_to))
    return out


def _write_folder(
    folder: Path,
    datas: list[ReportData],
    formats: list[str],
    publication: PublicationRecord,
    generated_at: datetime,
    on_file: Callable[[ExportedFile], None] | None,
) -> tuple[list[ManifestFile], list[dict]]:
    facts: list[ManifestFile] = []
    entries: list[dict] = []
    for data in datas:
        for fmt in formats:
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
            facts.append(fact)
            entries.append(file_entry(fact, data, publication, generated_at))
            if on_file is not None:
                on_file(ExportedFile(fact.report, fmt, path, fact.rows, fact.bytes, fact.sha256))
    return facts, entries


def export_reports(
    settings: Settings,
    *,
    report_date: date | None = None,
    reports: Sequence[str] | None = None,
    formats: Sequence[str] = FORMATS,
    date_from: date | None = None,
    date_to: date | None = None,
    out_dir: Path | None = None,
    on_file: Callable[[ExportedFile], None] | None = None,
) -> ExportResult:
    """Export the selected reports of the current publication; see the module docstring.

    ``report_date`` names the dated folder and sets the executive summary's month (default:
    the publication high-water mark's date in ``PETPRO_TIMEZONE``). ``date_from``/``date_to``
    (inclusive) filter time-grained reports on their period column; the other reports are
    exported whole (listed in ``ExportResult.untouched_by_range``). ``on_file`` is called after
    each file is written (progress bars).
    """
    selected = resolve_reports(reports)
    fmts = resolve_formats(formats)
    _check_range(date_from, date_to)

    with PublishedWarehouse(settings) as wh:
        publication = wh.publication
        report_date, hwm_date = _report_date(settings, publication, report_date)
        datas = _read_all(wh, selected, report_date, hwm_date, date_from, date_to)

    ranged = date_from is not None or date_to is not None
    untouched = [r.name for r in selected if ranged and not r.time_grained]
    selection = {
        "reports": [r.name for r in selected],
        "formats": fmts,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
    }
    generated_at = datetime.now(UTC)

    def build(final: Path) -> tuple[list[ManifestFile], Path]:
        tmp = layout.staging_dir(final)
        try:
            facts, entries = _write_folder(tmp, datas, fmts, publication, generated_at, on_file)
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
        ExportedFile(f.report, f.format, final / f.file, f.rows, f.bytes, f.sha256) for f in facts
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
    )


def parse_date(value: str, option: str) -> date:
    """Parse a YYYY-MM-DD option value, with a one-line error naming the option."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadDateError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD (e.g. 2024-03-31)"
        ) from None
