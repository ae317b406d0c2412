"""``petpro source …``: manage and fill the operational PostgreSQL database.

``start``/``stop``/``status``/``url`` manage the embedded server (or report on the external
one named by ``PETPRO_SOURCE_URL``); ``seed`` fills it with synthetic PetPro data and
``simulate-day`` advances it by one day the way the live application would.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from petpro.settings import get_settings

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
