"""``petpro demo``: a ready-to-explore PetPro source in one command.

Start the embedded PostgreSQL (or use ``PETPRO_SOURCE_URL``), create the schema, seed the
default synthetic dataset when the source is empty (``prepare_demo_source``), then run the
pipeline through Dagster in process: a full refresh, the customer models trained on it, one
simulated day and its incremental refresh (which scores every customer), the report files
(tables and both editions of the stakeholder PDF), and a summary of where everything is.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from petpro.settings import Settings, get_settings

console = Console()


def prepare_demo_source(settings: Settings) -> str:
    """Make sure the demo source is running, has the schema and holds data; return its URL."""
    from cli.source import print_seed_summary, seed_with_progress
    from sourcedb.schema import create_schema
    from sourcedb.seed import DEFAULT_CUSTOMERS, DEFAULT_DAYS, is_empty
    from sourcedb.server import EmbeddedServer, connect

    url = settings.source_url or EmbeddedServer(settings).start()
    with connect(url) as conn:
        create_schema(conn)
        empty = is_empty(conn)
    if empty:
        console.print(
            f"seeding the demo source: {DEFAULT_CUSTOMERS:,} customers over {DEFAULT_DAYS} days"
        )
        summary = seed_with_progress(settings, url, customers=DEFAULT_CUSTOMERS, days=DEFAULT_DAYS)
        print_seed_summary(summary)
    else:
        console.print("the demo source already holds data: kept as it is")
    return url


def demo() -> None:
    """Start the source, seed it if empty, run the whole pipeline, and say where results are.

    Full refresh through Dagster, then one simulated day and an incremental refresh of it,
    then the report files; ends with where the published marts, the exports, the dashboard
    and the Dagster UI are.
    """
    import time

    from cli.refresh import run_refresh
    from cli.source import show_counts

    started = time.perf_counter()
    settings = get_settings()
    url = prepare_demo_source(settings)
    show_counts(url)
    console.print(f"source: [bold]{url}[/]")

    console.rule("full refresh (ingest → checks → dbt → publish)")
    run_refresh(settings, full=True, allow_generated_key=True, out=console)

    _train_models(settings)

    console.rule("one more day in the source, then the nightly incremental refresh")
    day = _simulate_next_day(settings, url)
    if day is not None:
        run_refresh(settings, day=day, allow_generated_key=True, out=console)

    exports_folder = _export_reports(settings)

    console.rule(f"done in {time.perf_counter() - started:.0f} s")
    console.print(f"published marts:  [bold]{settings.published_db}[/] (DuckDB, read-only)")
    console.print(
        f"                  [bold]{settings.published_marts_dir}/<mart>.parquet[/] "
        "(the same marts but the per-customer ones)"
    )
    console.print(f"report files:     [bold]{exports_folder}[/]")
    from cli.serve import dashboard_hint

    console.print(dashboard_hint(), highlight=False, soft_wrap=True)
    console.print(
        "Dagster UI:       `make ui` → http://127.0.0.1:3000 (jobs, schedules, backfills)"
    )


def _train_models(settings: Settings) -> None:
    """Train churn risk and lifetime value on the full refresh; the nightly refresh scores."""
    from cli.predict import train_and_report
    from petpro.errors import PetProError

    console.rule("customer models (churn risk, lifetime value) on the publication")
    try:
        train_and_report(settings, out=console)
    except PetProError as exc:
        console.print(f"[yellow]models not trained:[/] {exc}")


def _simulate_next_day(settings: Settings, url: str) -> date | None:
    """Simulate the day after the newest activity; return the partition day to refresh."""
    from orchestration.partitions import activity_partitions
    from petpro.errors import PetProError
    from sourcedb.simulate import simulate_day

    try:
        summary = simulate_day(url, timezone=settings.timezone)
    except PetProError as exc:
        console.print(f"[yellow]no day simulated:[/] {exc}")
        return None
    new_rows = sum(summary.inserts.values())
    console.print(
        f"simulated {summary.day}: {new_rows:,} new rows, {summary.late_activities:,} late "
        f"activities, {summary.deleted_users} erased user(s)"
    )
    # The refresh's dbt window also covers every day the ingestion touches, so a day past the
    # newest partition (a demo re-run) is still processed through the newest one.
    last = activity_partitions(settings).get_last_partition_key()
    if last is not None and summary.day.isoformat() > last:
        return date.fromisoformat(last)
    return summary.day


def _export_reports(settings: Settings) -> Path:
    from exports.run import export_reports

    console.rule("report files")
    result = export_reports(settings)
    console.print(f"{len(result.files)} report files written to {result.folder}")
    for f in result.files:
        if f.format == "pdf":
            console.print(f"stakeholder report ({f.edition}): {f.path}", highlight=False)
    return result.folder


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
