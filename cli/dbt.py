"""``petpro dbt [ARGS]...``: run dbt on the warehouse project with the project's settings.

Everything after ``dbt`` goes to dbt unchanged (``petpro dbt build``, ``petpro dbt build
--select marts --vars '{min_date: 2024-06-01, max_date: 2024-06-02}'``, ``petpro dbt docs
generate``, ``petpro dbt docs serve``); ``warehouse.dbt.run_dbt`` supplies the project and
profiles directories, ``PETPRO_HOME``, the business time zone and the thread count, and turns
a failure into one line naming the node that failed. A summary of node statuses follows.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from petpro.settings import get_settings

console = Console()


def dbt(ctx: typer.Context) -> None:
    """Run dbt on the warehouse project (arguments are passed to dbt as given)."""
    from warehouse.dbt import run_dbt

    args = list(ctx.args)
    if not args:
        args = ["--help"]
    run = run_dbt(get_settings(), args)
    counts = run.status_counts()
    if counts:
        table = Table(title=f"dbt {' '.join(args)} — {run.elapsed:.1f} s")
        table.add_column("status")
        table.add_column("nodes", justify="right")
        for status, n in sorted(counts.items()):
            table.add_row(status, str(n))
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command(
        "dbt",
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],  # `petpro dbt --help` shows dbt's help
        },
        add_help_option=False,
    )(dbt)
