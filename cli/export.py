"""``petpro export``: write report files (CSV, Parquet, XLSX, PDF) from the published marts.

Without options it exports every report in each of its formats — the tables as CSV, Parquet and
XLSX, the stakeholder report as a monthly and a weekly PDF — into
``$PETPRO_HOME/exports/<report date>/`` and moves ``exports/latest``, exactly like the scheduled
export. ``--report``, ``--format``, ``--from/--to`` and ``--out`` make ad-hoc downloads: a subset
of reports, a date range on the time-grained ones, and a folder of your choice. ``--format pdf``
(optionally ``--edition monthly|weekly``) builds the stakeholder report and adds it to the date's
folder, keeping the files already there; ``--email`` then sends it to
``PETPRO_REPORT_RECIPIENTS``. ``--list`` shows the declared reports. The work is done by
``exports.run.export_reports``; this module only parses options and shows progress and a
summary table.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from petpro.settings import get_settings

console = Console()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _list_reports() -> None:
    from exports.reports import REPORTS

    table = Table(title="reports")
    table.add_column("report", no_wrap=True)
    table.add_column("read from", no_wrap=True)
    table.add_column("--from/--to on", no_wrap=True)
    table.add_column("formats", no_wrap=True)
    table.add_column("content")
    for r in REPORTS:
        table.add_row(
            r.name, r.mart or "several marts", r.period_column or "-", ", ".join(r.formats), r.title
        )
    console.print(table)


def export(
    date_: str | None = typer.Option(
        None, "--date", help="Report date YYYY-MM-DD (default: the data high-water mark's date)."
    ),
    report: list[str] | None = typer.Option(
        None, "--report", "-r", help="Report to export (repeatable; default: all). See --list."
    ),
    format_: list[str] | None = typer.Option(
        None,
        "--format",
        "-f",
        help="csv, parquet, xlsx or pdf (repeatable; default: each report in all its formats).",
    ),
    edition: list[str] | None = typer.Option(
        None,
        "--edition",
        "-e",
        help="Stakeholder report edition: monthly or weekly (repeatable; default: both).",
    ),
    email: bool = typer.Option(
        False,
        "--email",
        help="E-mail the stakeholder PDF(s) to PETPRO_REPORT_RECIPIENTS via PETPRO_SMTP_URL.",
    ),
    date_from: str | None = typer.Option(
        None, "--from", help="Keep periods starting on or after this date (time-grained reports)."
    ),
    date_to: str | None = typer.Option(
        None, "--to", help="Keep periods starting on or before this date (time-grained reports)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write the folder here instead of $PETPRO_HOME/exports/<date>/."
    ),
    list_: bool = typer.Option(False, "--list", help="List the reports and exit."),
) -> None:
    """Export reports from the published marts to CSV, Parquet, XLSX and PDF files."""
    if list_:
        _list_reports()
        return

    from exports.delivery import deliver_report, delivery_configured
    from exports.periods import resolve_editions
    from exports.reports import STAKEHOLDER_REPORT, resolve_formats, resolve_selection
    from exports.run import ExportedFile, export_reports, parse_date
    from petpro.mail import MailError

    # Validate everything before touching the publication, so mistakes fail fast.
    day = parse_date(date_, "--date") if date_ else None
    start = parse_date(date_from, "--from") if date_from else None
    end = parse_date(date_to, "--to") if date_to else None
    selected = resolve_selection(report, format_)
    formats = resolve_formats(format_)
    editions = resolve_editions(edition)
    if start and end and start > end:
        from exports.errors import BadDateError

        raise BadDateError(
            f"--from {start.isoformat()} is after --to {end.isoformat()}: give the earlier date first"
        )
    with_pdf = any(r.name == STAKEHOLDER_REPORT for r, _ in selected)
    settings = get_settings()
    if email and not with_pdf:
        raise MailError(
            "--email sends the stakeholder PDF: add --format pdf (or leave --format out)"
        )
    if email and not delivery_configured(settings):
        raise MailError(
            "--email needs PETPRO_SMTP_URL and PETPRO_REPORT_RECIPIENTS: set both and try again"
        )
    pdf_only = all(fs == ["pdf"] for _, fs in selected)
    total = sum(len(editions) if r.name == STAKEHOLDER_REPORT else len(fs) for r, fs in selected)
    with Progress(
        TextColumn("[bold]exporting[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("reading the publication", total=total)

        def on_file(f: ExportedFile) -> None:
            progress.update(task, advance=1, description=f.path.name)

        result = export_reports(
            settings,
            report_date=day,
            reports=[r.name for r, _ in selected],
            formats=formats,
            editions=editions,
            date_from=start,
            date_to=end,
            out_dir=out,
            # A PDF-only export adds to the date's folder instead of replacing its tables.
            keep_other_files=pdf_only and out is None,
            on_file=on_file,
        )

    table = Table(title=f"exports for {result.report_date.isoformat()} (run {result.run_id})")
    table.add_column("report")
    table.add_column("format")
    table.add_column("rows", justify="right")
    table.add_column("size", justify="right")
    table.add_column("sha256")
    for f in result.files:
        name = f"{f.report} ({f.edition})" if f.edition else f.report
        rows = "-" if f.format == "pdf" else f"{f.rows:,}"
        table.add_row(name, f.format, rows, _size(f.bytes), f.sha256[:12])
    table.add_section()
    rows_total = f"{result.total_rows:,}" if any(f.format != "pdf" for f in result.files) else "-"
    table.add_row("total", "", rows_total, _size(result.total_bytes), "")
    console.print(table)
    if result.untouched_by_range:
        console.print(
            "not time-grained, exported whole: " + ", ".join(result.untouched_by_range),
            highlight=False,
        )
    if result.pruned:
        console.print(f"pruned {len(result.pruned)} old export folder(s)")
    if result.kept:
        console.print(f"kept {len(result.kept)} file(s) of the folder's previous export")
    console.print(f"folder: [bold]{result.folder}[/]", highlight=False)
    console.print(f"manifest: {result.manifest_path}", highlight=False)
    if email:
        for document in result.documents:
            pdf = result.pdf(document.edition)
            assert pdf is not None
            sent = deliver_report(settings, pdf.path, document)
            console.print(
                f"e-mailed {sent.attachment} to {', '.join(sent.recipients)}", highlight=False
            )


def register(app: typer.Typer) -> None:
    app.command(name="export")(export)
