"""``petpro ingest``: extract the source into the Parquet lake, with progress and a summary.

Runs ``ingestion.run.run_ingestion`` for the chosen tables (default: all), incrementally
unless ``--full``; ``--dates FROM..TO`` re-extracts those activity partitions (backfill);
``--verify-all`` verifies every lake file first, not only those changed since written.
The PII key comes from ``PETPRO_PII_KEY``; without it, an existing ``$PETPRO_HOME/pii.key``
(written by ``petpro demo``) is used, and otherwise the command refuses to run rather than
pseudonymise IP addresses with a made-up key.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from petpro.errors import PetProError
from petpro.settings import get_settings

console = Console()


def parse_dates(value: str | None) -> tuple[date, date] | None:
    """``YYYY-MM-DD..YYYY-MM-DD`` (or one date) → (first, last)."""
    if not value:
        return None
    first, sep, last = value.partition("..")
    try:
        lo = date.fromisoformat(first.strip())
        hi = date.fromisoformat(last.strip()) if sep else lo
    except ValueError:
        raise PetProError(
            f"--dates {value!r} is not FROM..TO with ISO dates (e.g. 2025-01-01..2025-01-31)"
        ) from None
    if lo > hi:
        raise PetProError(f"--dates {value!r}: the first date is after the last")
    return lo, hi


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def ingest(
    tables: list[str] | None = typer.Option(
        None,
        "--tables",
        "-t",
        help="Tables to extract (repeatable or comma-separated); default all.",
    ),
    full: bool = typer.Option(False, "--full", help="Rebuild the tables from scratch."),
    dates: str | None = typer.Option(
        None, "--dates", help="Re-extract activity partitions FROM..TO (YYYY-MM-DD..YYYY-MM-DD)."
    ),
    verify_all: bool = typer.Option(
        False,
        "--verify-all",
        help="Verify every lake file against its recorded digest and page checksums first "
        "(by default only files changed since ingestion wrote them); run it weekly.",
    ),
) -> None:
    """Extract the source tables into the Parquet lake (incremental by default)."""
    from ingestion.run import run_ingestion

    settings = get_settings()
    names = [n.strip() for t in tables or [] for n in t.split(",") if n.strip()] or None
    window = parse_dates(dates)
    # An existing demo key is fine to reuse; never invent one here (see module docstring).
    allow_generated = not settings.pii_key and (settings.home / "pii.key").exists()

    with Progress(
        TextColumn("[bold]{task.description:<15}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(table: str, done: int, total: int | None) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done, total=total)

        run = run_ingestion(
            settings,
            names,
            full=full,
            dates=window,
            allow_generated_key=allow_generated,
            progress=progress,
            raise_on_error=False,
            verify_all=verify_all,
        )

    summary = Table(title=f"ingestion run {run.run_id}")
    for column in ("table", "mode", "rows", "files", "bytes", "rejected", "seconds", "rows/s"):
        summary.add_column(column, justify="left" if column in ("table", "mode") else "right")
    summary.add_column("quality")
    for name, r in run.tables.items():
        quality = (
            "[green]ok[/]" if r.quality.success else f"[red]{len(r.quality.errors)} error(s)[/]"
        )
        if r.quality.warnings:
            quality += f" [yellow]{len(r.quality.warnings)} warning(s)[/]"
        summary.add_row(
            name,
            r.mode,
            f"{r.rows:,}",
            f"{r.files:,}",
            _human_bytes(r.bytes),
            f"{r.rejected:,}",
            f"{r.seconds:.2f}",
            f"{r.rows_per_second:,.0f}",
            quality,
        )
    for name in run.errors:
        summary.add_row(name, "[red]failed[/]", "", "", "", "", "", "", "")
    console.print(summary)
    for name, r in run.tables.items():
        for column in r.new_columns:
            console.print(f"[yellow]warning:[/] {name}: new source column {column!r} ignored")
        for message in r.quality.errors:
            console.print(f"[red]quality error:[/] {message}")
        for message in r.quality.warnings:
            console.print(f"[yellow]quality warning:[/] {message}")
    console.print(f"run record: {run.record_path}")
    if run.errors:
        first = next(iter(run.errors.values()))
        more = (
            f" (+{len(run.errors) - 1} more table(s), see the run record)"
            if len(run.errors) > 1
            else ""
        )
        raise PetProError(first + more)


def register(app: typer.Typer) -> None:
    app.command(name="ingest")(ingest)
