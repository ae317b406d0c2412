"""``petpro ui``: the Dagster UI on this code location, for analysts.

Sets ``DAGSTER_HOME=$PETPRO_HOME/dagster`` (with the repository's ``dagster.yaml`` copied in:
telemetry off, run queue limits, run retries) and ``PETPRO_HOME`` for the child, prepares the
dbt manifest, then runs ``dagster dev -m orchestration.definitions`` bound to 127.0.0.1
(webserver plus the daemon that runs schedules, sensors and queued runs) until interrupted.

``dagster dev`` runs in a process group of its own. Ctrl-C, SIGTERM or SIGHUP to ``petpro ui``
asks it to shut its services down (SIGTERM); whatever of that group is still alive
:data:`STOP_GRACE_SECONDS` later is killed, so ``petpro ui`` always stops, and leaves no
webserver, daemon or code server behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from petpro.settings import REPO_ROOT, get_settings

console = Console()

# dagster dev needs about 6 s to stop its webserver, daemon and code server on a busy machine.
STOP_GRACE_SECONDS = 8.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class _Stop(Exception):
    """A stop signal arrived."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signum)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_until_stopped(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> int:
    """Run ``cmd`` in its own process group until it exits or a stop signal arrives; then
    stop the whole group (SIGTERM, then SIGKILL after the grace period)."""
    previous = {sig: signal.signal(sig, _raise_stop) for sig in STOP_SIGNALS}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, process_group=0)
    try:
        try:
            return proc.wait()
        except _Stop:
            console.print("stopping the Dagster UI…")
            for sig in STOP_SIGNALS:  # a second signal must not cut the clean-up short
                signal.signal(sig, signal.SIG_IGN)
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_SECONDS)
            return 0
    finally:
        _kill_group(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
        proc.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def register(app: typer.Typer) -> None:
    @app.command()
    def ui(
        port: int = typer.Option(3000, help="Port of the Dagster UI on 127.0.0.1."),
    ) -> None:
        """Start the Dagster UI (and daemon) on 127.0.0.1 for this code location."""
        from orchestration.instance import prepare_instance_home
        from orchestration.manifest import prepare_manifest

        settings = get_settings()
        home = prepare_instance_home(settings)
        prepare_manifest(settings)
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
        raise typer.Exit(run_until_stopped(cmd, cwd=REPO_ROOT, env=env))
