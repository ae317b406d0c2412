"""``petpro refresh [--date D] [--full]``: run the Dagster pipeline in this process.

Runs the ``nightly_refresh`` job (incremental ingestion → quality checks → dbt build of the
day's partition plus the late-event look-back → write-audit-publish) for ``--date`` (default
yesterday in ``PETPRO_TIMEZONE``), or ``full_rebuild`` with ``--full``, on the Dagster
instance under ``$PETPRO_HOME/dagster`` (so the run appears in ``petpro ui``). Shows one
progress line per step and ends with a summary: rows per mart, check results, step timings
and where the published files are. A failed run exits non-zero with one line saying why. A
step waiting for the build lock says so (and whose run holds it); a run left unfinished by a
killed process is reported and marked failed before the new run starts.

When nothing changed since the current publication was built (the source's row counts and
newest ``updated_at`` per table, the dbt project, code, models and settings: see
:mod:`warehouse.inputs`), the run is skipped before Dagster is even imported, with one line
``nothing new since publication <id>``; ``--force`` runs it anyway, ``--full`` always runs.
``--intraday`` is the micro-batch of today so far: the same job on today's partition (what
changed since the last run is extracted, the incremental marts recompute today's window, the
other marts are rebuilt, everything is published), skipped likewise when nothing changed.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from petpro.errors import PetProError
from petpro.settings import Settings, get_settings

console = Console(file=sys.stdout)


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PetProError(f"--date {value!r} is not an ISO date (YYYY-MM-DD)") from None


def skip_if_unchanged(settings: Settings, out: Console) -> Any:
    """The current publication's record when nothing changed since it was built, else None.

    Decided before Dagster, dbt or the definitions are even imported (see
    :mod:`warehouse.inputs`): a refresh with no new data costs one query per source table.
    """
    from warehouse.inputs import unchanged_since_publication

    verdict = unchanged_since_publication(settings)
    if not verdict.unchanged:
        if verdict.publication is not None:
            out.print(f"refreshing: {verdict.reason}", highlight=False)
        return None
    record = verdict.publication
    out.print(
        f"nothing new since publication {record.version} (run {record.run_id}, published "
        f"{record.published_at:%Y-%m-%d %H:%M:%S %Z}, data up to {record.high_water_mark}): "
        "ingestion, dbt, tests and publish skipped; `petpro refresh --force` runs them anyway",
        highlight=False,
    )
    return record


def run_refresh(
    settings: Settings,
    *,
    day: date | None = None,
    full: bool = False,
    allow_generated_key: bool = False,
    out: Console | None = None,
    skip_unchanged: bool = False,
    intraday: bool = False,
) -> Any:
    """Run the refresh with rich progress; returns the runner's ``RunSummary``.

    With ``skip_unchanged`` (``petpro refresh`` without ``--full``/``--force``), a source and
    build unchanged since the current publication skip the run: the publication's record is
    returned instead.
    """
    out = out or console
    if skip_unchanged and not full:
        record = skip_if_unchanged(settings, out)
        if record is not None:
            return record

    from orchestration.runner import refresh

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=out,
        transient=False,
    ) as progress:
        tasks: dict[str, Any] = {}
        loading = progress.add_task("loading the Dagster definitions", total=1)
        started = {"done": False}

        def on_event(event: Any) -> None:
            if not started["done"]:
                progress.update(loading, completed=1, description="definitions loaded")
                started["done"] = True
            if event.kind in {"notice", "lock_wait"}:
                progress.console.print(f"[yellow]{event.text}[/]", highlight=False)
                return
            step = event.step
            if step is None:
                return
            if event.kind == "step_start":
                tasks[step] = progress.add_task(f"{step}", total=1)
            elif step in tasks and event.kind in {"step_success", "step_failed", "step_failure"}:
                mark = "[green]✓[/]" if event.kind == "step_success" else "[red]✗[/]"
                progress.update(tasks[step], completed=1, description=f"{mark} {step}")
            elif step in tasks and event.kind == "step_skipped":
                progress.update(
                    tasks[step], completed=1, description=f"[yellow]-[/] {step} skipped"
                )
            elif step in tasks and event.kind == "step_retry":
                progress.update(tasks[step], description=f"[yellow]↻[/] {step} (retrying)")

        summary = refresh(
            settings,
            day=day,
            full=full,
            allow_generated_key=allow_generated_key,
            intraday=intraday,
            on_event=on_event,
        )
        progress.update(loading, completed=1)
    print_summary(settings, summary, out)
    return summary


def print_summary(settings: Settings, summary: Any, out: Console) -> None:
    from warehouse.publish import read_publication

    info = read_publication(settings)
    marts = Table(title="published marts")
    marts.add_column("mart")
    marts.add_column("rows", justify="right")
    for mart, rows in sorted((info.row_counts if info else {}).items()):
        marts.add_row(mart, f"{rows:,}")
    out.print(marts)

    passed = sum(1 for c in summary.checks if c.passed)
    warned = [c for c in summary.checks if not c.passed and c.severity != "ERROR"]
    out.print(
        f"checks: [green]{passed} passed[/], "
        f"{len(warned)} warning(s), {len(summary.failed_checks) - len(warned)} failed"
    )
    for c in warned[:10]:
        out.print(f"  [yellow]warning[/] {c.asset}:{c.name}")

    steps = Table(title=f"{summary.job} {summary.partition or ''} — {summary.seconds:.1f} s")
    steps.add_column("step")
    steps.add_column("status")
    steps.add_column("seconds", justify="right")
    for step in summary.steps.values():
        steps.add_row(step.key, step.status, f"{step.seconds:.1f}")
    out.print(steps)
    if info is not None:
        out.print(
            f"published: [bold]{settings.published_db}[/] and [bold]{settings.published_marts_dir}/[/]"
        )
        out.print(
            f"publication run {info.run_id} at {info.published_at:%Y-%m-%d %H:%M:%S %Z}, "
            f"data up to {info.high_water_mark}"
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def refresh(
        date_: str | None = typer.Option(
            None,
            "--date",
            help="Business day (YYYY-MM-DD) whose partition to refresh; default yesterday.",
        ),
        full: bool = typer.Option(
            False, "--full", help="Full rebuild: re-extract everything, dbt --full-refresh."
        ),
        force: bool = typer.Option(
            False,
            "--force",
            help="Run even when nothing changed since the current publication.",
        ),
        intraday: bool = typer.Option(
            False,
            "--intraday",
            help="Micro-batch of today so far: extract what changed, rebuild today's window, "
            "publish (skipped when nothing changed).",
        ),
    ) -> None:
        """Run the pipeline (ingest → checks → dbt → publish) through Dagster, in process.

        Skipped, with one line saying so, when neither the source nor the dbt project, code,
        models or settings changed since the current publication was built.
        """
        if full and date_:
            raise PetProError("--full rebuilds everything: drop --date")
        if intraday and (full or date_):
            raise PetProError("--intraday refreshes today so far: drop --full and --date")
        run_refresh(
            get_settings(),
            day=_parse_date(date_),
            full=full,
            skip_unchanged=not force,
            intraday=intraday,
        )
