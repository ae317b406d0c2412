"""``petpro source …``: manage and fill the operational PostgreSQL database.

``start``/``stop``/``status``/``url`` manage the embedded server (or report on the external
one named by ``PETPRO_SOURCE_URL``); ``seed`` fills it with synthetic PetPro data and
``simulate-day`` advances it by one day the way the live application would.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from petpro.errors import PetProError
from petpro.settings import Settings, get_settings

source_app = typer.Typer(help="Manage the operational PostgreSQL source.", no_args_is_help=True)
console = Console()


@source_app.command()
def start() -> None:
    """Start the embedded PostgreSQL server (reused if running) and create the schema."""
    from sourcedb.schema import create_schema
    from sourcedb.server import EmbeddedServer, connect

    settings = get_settings()
    if settings.source_url:
        url = settings.source_url
        console.print("PETPRO_SOURCE_URL is set: using that server, not starting one.")
    else:
        url = EmbeddedServer(settings).start()
    with connect(url) as conn:
        create_schema(conn)
    console.print(f"source ready: [bold]{url}[/]")


@source_app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL server."""
    from sourcedb.server import EmbeddedServer

    settings = get_settings()
    if settings.source_url:
        console.print("PETPRO_SOURCE_URL is set: the external server is not managed here.")
        return
    if EmbeddedServer(settings).stop():
        console.print("embedded source stopped")
    else:
        console.print("embedded source was not running")


@source_app.command()
def status() -> None:
    """Show whether the source is reachable, and what it holds."""
    from sourcedb import server

    settings = get_settings()
    st = server.status(settings)
    kind = "external (PETPRO_SOURCE_URL)" if st.external else f"embedded ({st.data_dir})"
    state = "[green]running[/]" if st.running else "[red]stopped[/]"
    console.print(f"source: {kind} — {state}")
    if st.url:
        console.print(f"url: {st.url}")
    if st.running and st.url:
        show_counts(st.url)
    elif not st.external:
        console.print("start it with `petpro source start`")
    if not st.running:
        raise typer.Exit(1)


@source_app.command()
def url() -> None:
    """Print the source URL (starting nothing)."""
    from sourcedb.server import source_url

    print(source_url(get_settings()))


class SourceArgumentError(PetProError):
    """A `petpro source` option has a value that cannot be used."""


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise SourceArgumentError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD, e.g. 2025-06-30"
        ) from None


def seed_with_progress(
    settings: Settings,
    url: str,
    *,
    customers: int,
    days: int,
    end_date: date | None = None,
    seed: int = 42,
    reset: bool = False,
) -> object:
    """Run ``seed_source`` with a rich progress bar (rows loaded, rows/s); return its summary."""
    from sourcedb.seed import seed_source

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        tasks: dict[str, int] = {}
        started: dict[str, float] = {}

        def progress(stage: str, done: int, total: int) -> None:
            import time

            label = {"generate": "generating", "load": "loading (COPY)", "index": "indexing"}
            if stage not in tasks:
                tasks[stage] = bar.add_task(label.get(stage, stage), total=total, rate="")
                started[stage] = time.perf_counter()
            elapsed = time.perf_counter() - started[stage]
            rate = f"{done / elapsed:,.0f} rows/s" if stage == "load" and elapsed > 0 else ""
            bar.update(tasks[stage], completed=done, total=total, rate=rate)

        return seed_source(
            url,
            customers=customers,
            days=days,
            end_date=end_date,
            seed=seed,
            reset=reset,
            timezone=settings.timezone,
            progress=progress,
        )


def print_seed_summary(summary: object) -> None:
    table = Table(title=f"seeded {summary.start_date} → {summary.end_date} (seed {summary.seed})")  # type: ignore[attr-defined]
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in summary.rows.items():  # type: ignore[attr-defined]
        table.add_row(name, f"{count:,}")
    table.add_row("[bold]total", f"[bold]{summary.total_rows:,}")  # type: ignore[attr-defined]
    console.print(table)
    console.print(
        f"{summary.total_rows:,} rows in {summary.seconds:.1f} s "  # type: ignore[attr-defined]
        f"(generate {summary.generate_seconds:.1f} s, load {summary.load_seconds:.1f} s): "  # type: ignore[attr-defined]
        f"[bold]{summary.rows_per_second:,.0f} rows/s[/]"  # type: ignore[attr-defined]
    )


@source_app.command()
def seed(
    customers: int = typer.Option(20_000, help="Customers over the whole history."),
    days: int = typer.Option(540, help="Days of history, ending on --end-date."),
    end_date: str | None = typer.Option(
        None, "--end-date", help="Last day of history (YYYY-MM-DD); default today − 2 days."
    ),
    seed_value: int = typer.Option(42, "--seed", help="Random seed: same seed, same data."),
    reset: bool = typer.Option(False, help="Truncate every table first."),
) -> None:
    """Fill the source with deterministic synthetic PetPro data (COPY, vectorised)."""
    from sourcedb.seed import default_end_date, validate
    from sourcedb.server import source_url

    settings = get_settings()
    end = _parse_date(end_date, "--end-date")
    validate(customers, days, end or default_end_date(settings.timezone), settings.timezone)
    url = source_url(settings)
    summary = seed_with_progress(
        settings, url, customers=customers, days=days, end_date=end, seed=seed_value, reset=reset
    )
    print_seed_summary(summary)


@source_app.command("simulate-day")
def simulate_day_command(
    day: str | None = typer.Option(
        None, "--date", help="Day to simulate (YYYY-MM-DD); default the day after the latest."
    ),
    seed_value: int = typer.Option(7, "--seed", help="Random seed of the simulation."),
    incident: str | None = typer.Option(
        None,
        "--incident",
        help="Make the day go wrong: payment_outage, signup_spike or booking_drop "
        "(see the README).",
    ),
) -> None:
    """Advance the source by one day as the live application would."""
    from sourcedb.server import source_url
    from sourcedb.simulate import incident_named, simulate_day

    if incident:
        incident_named(incident)  # an unknown name is one line before anything starts

    settings = get_settings()
    when = _parse_date(day, "--date")
    url = source_url(settings)
    with console.status("simulating a day…"):
        summary = simulate_day(
            url, when, seed=seed_value, timezone=settings.timezone, incident=incident
        )
    table = Table(title=f"simulated {summary.day}")
    table.add_column("table")
    table.add_column("inserted", justify="right")
    table.add_column("updated", justify="right")
    for name in sorted(set(summary.inserts) | set(summary.updates)):
        table.add_row(
            name, f"{summary.inserts.get(name, 0):,}", f"{summary.updates.get(name, 0):,}"
        )
    console.print(table)
    console.print(
        f"late activities: {summary.late_activities}, deactivated users: "
        f"{summary.deactivated_users}, deleted users: {summary.deleted_users}"
    )
    if summary.incident:
        console.print(f"incident: {summary.incident}")


def show_counts(url: str) -> None:
    from sourcedb.schema import SOURCE_TABLES
    from sourcedb.server import connect

    table = Table(title="source tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    with connect(url) as conn:
        for name in SOURCE_TABLES:
            exists = conn.execute("select to_regclass(%s)", (name,)).fetchone()
            count = (
                conn.execute(f"select count(*) from {name}").fetchone()[0]
                if exists and exists[0]
                else "-"
            )
            table.add_row(name, f"{count:,}" if isinstance(count, int) else count)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(source_app, name="source")
