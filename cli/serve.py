"""``petpro serve`` (the analytics API and dashboard) and ``petpro token`` (mint a JWT).

``serve`` runs the FastAPI app of ``serving.app`` under uvicorn on the published marts;
``token`` mints a JWT signed with ``PETPRO_JWT_SECRET`` for a role, e.g. to paste into the
dashboard's sign-in form. FastAPI and uvicorn are imported inside the commands so that
``petpro --help`` stays fast.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console

from petpro.settings import get_settings

console = Console()


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
    workers: int = typer.Option(
        1, min=1, help="Worker processes (each opens the publication read-only)."
    ),
    cache_entries: int = typer.Option(
        1024, min=0, help="Answers kept per worker in the response cache (0 = off)."
    ),
) -> None:
    """Serve the analytics API and the dashboard (reads only published/; follows new publications)."""
    import uvicorn

    from serving.app import CACHE_ENTRIES_ENV, create_app

    settings = get_settings().with_demo_jwt_secret()
    if not settings.published_db.exists():
        console.print(
            f"[yellow]nothing published yet at {settings.published_db}[/]: the API answers 503 "
            "until `petpro refresh` (or `petpro demo`) publishes"
        )
    if not settings.jwt_secret:
        console.print(
            "[yellow]PETPRO_JWT_SECRET is empty: JWT sign-in is disabled, API keys only[/]"
        )
    console.print(
        f"dashboard: [bold]http://{host}:{port}/dashboard[/]  ·  API docs: http://{host}:{port}/docs"
    )
    if workers > 1:
        # Worker processes build their own app from the same PETPRO_* environment.
        os.environ[CACHE_ENTRIES_ENV] = str(cache_entries)
        uvicorn.run(
            "serving.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            log_level=log_level,
            workers=workers,
        )
    else:
        app = create_app(settings, cache_entries=cache_entries)
        uvicorn.run(app, host=host, port=port, log_level=log_level)


def token(
    role: str = typer.Option("admin", help="Role claim: admin or analyst."),
    sub: str = typer.Option("demo-admin", help="Subject claim (who the token is for)."),
    ttl_hours: float = typer.Option(24, help="Validity in hours."),
) -> None:
    """Mint a JWT for the API (signed with PETPRO_JWT_SECRET); prints only the token."""
    from serving.auth import mint_token

    print(
        mint_token(get_settings().with_demo_jwt_secret(), role=role, sub=sub, ttl_hours=ttl_hours)
    )


def dashboard_hint(host: str = "127.0.0.1", port: int = 8000, ttl_hours: float = 24) -> str:
    """For ``petpro demo``: the dashboard URL and a fresh admin token, as printable text."""
    from serving.auth import mint_token

    settings = get_settings().with_demo_jwt_secret(create=True)
    tok = mint_token(settings, role="admin", sub="demo-admin", ttl_hours=ttl_hours)
    return (
        f"dashboard: http://{host}:{port}/dashboard (start it with `petpro serve`)\n"
        f"admin token (valid {ttl_hours:g} h, paste it into the sign-in form):\n{tok}"
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("token")(token)
