"""``petpro ui``: the Dagster UI on this code location, for analysts.

Sets ``DAGSTER_HOME=$PETPRO_HOME/dagster`` (with the repository's ``dagster.yaml`` copied in:
telemetry off, run queue limits, run retries), prepares the dbt manifest, then runs
``dagster dev -m orchestration.definitions`` bound to 127.0.0.1 (webserver plus the daemon
that runs schedules, sensors and queued runs) until interrupted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer
from rich.console import Console

from petpro.settings import REPO_ROOT, get_settings

console = Console()


def register(app: typer.Typer) -> None:
    @app.command()
    def ui(
        port: int = typer.Option(3000, help="Port of the Dagster UI on 127.0.0.1."),
    ) -> None:
        """Start the Dagster UI (and daemon) on 127.0.0.1 for this code location."""
        from orchestration.manifest import apply_dbt_env, prepare_manifest
        from orchestration.runner import prepare_instance_home

        settings = get_settings()
        home = prepare_instance_home(settings)
        prepare_manifest(settings)
        apply_dbt_env(settings)
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "PETPRO_HOME": str(settings.home),
            "DAGSTER_DISABLE_TELEMETRY": "true",
        }
        dagster = Path(sys.executable).with_name("dagster")
        cmd = [
            str(dagster) if dagster.exists() else "dagster",
            "dev",
            "-m",
            "orchestration.definitions",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        console.print(
            f"Dagster UI on [bold]http://127.0.0.1:{port}[/] (DAGSTER_HOME={home}); Ctrl-C stops it"
        )
        try:
            rc = subprocess.call(cmd, cwd=REPO_ROOT, env=env)
        except KeyboardInterrupt:
            rc = 0
        raise typer.Exit(rc)
