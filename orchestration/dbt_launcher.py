"""The dbt that dagster-dbt starts: this home's dbt environment, and dbt dies with its step.

dagster-dbt runs ``DbtCliResource.dbt_executable`` with the environment of the step's process.
Instead of exporting the dbt variables into that process, the code location writes one small
launcher per home (:func:`write_launcher`, ``$PETPRO_HOME/warehouse/bin/dbt``) that sets them
(:func:`warehouse.dbt.dbt_env`, the one definition) and runs this file, which asks the kernel
to kill dbt when the step process dies (``PR_SET_PDEATHSIG``) and then becomes dbt. Without it
a ``kill -9`` of a run would leave dbt writing ``build.duckdb`` after the run's lock was
released, and the next run's dbt would fail on DuckDB's file lock. Run as a script, this file
imports only the standard library.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from petpro.settings import Settings

PR_SET_PDEATHSIG = 1


def launcher_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / "bin" / "dbt"


def write_launcher(settings: Settings) -> Path:
    """Write (only when it changed) the launcher of this home; returns its path."""
    from orchestration.manifest import dbt_executable, venv_python
    from warehouse.dbt import dbt_env

    env = dbt_env(settings, inherit=False, artefacts=False)
    lines = [
        "#!/bin/sh",
        f"# dbt for PETPRO_HOME={settings.home}, written by {__name__}: do not edit.",
        *(f"export {key}={shlex.quote(value)}" for key, value in sorted(env.items())),
        f'exec {shlex.quote(venv_python())} {shlex.quote(__file__)} "$PPID" '
        f'{shlex.quote(dbt_executable())} "$@"',
    ]
    text = "\n".join(lines) + "\n"
    path = launcher_path(settings.warehouse_dir)
    if path.exists() and path.read_text() == text:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".dbt.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(path)
    return path


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process (and the dbt it becomes) when its parent exits."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def main(argv: list[str]) -> None:
    parent, dbt, *args = argv
    _die_with_parent()
    if os.getppid() != int(parent):  # the step died before the request took effect
        sys.exit("dbt not started: the process that asked for it is gone")
    os.execv(dbt, [dbt, *args])


if __name__ == "__main__":
    main(sys.argv[1:])
