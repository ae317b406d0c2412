"""The dbt that dagster-dbt starts: this home's dbt environment, and dbt dies with its step.

dagster-dbt runs ``DbtCliResource.dbt_executable`` with the environment of the step's process.
Instead of exporting the dbt variables into that process, the code location writes one small
launcher per home (:func:`write_launcher`, ``$PETPRO_HOME/warehouse/bin/dbt``) that sets them
(:func:`warehouse.dbt.dbt_env`, the one definition) and runs this file, which asks the kernel
to kill dbt when the step process dies (:mod:`petpro.parent_death`) and then becomes dbt. Without it
a ``kill -9`` of a run would leave dbt writing ``build.duckdb`` after the run's lock was
released, and the next run's dbt would fail on DuckDB's file lock. It also hands dbt the
run's window: the bounds a step writes into its invocation's target folder
(:data:`WINDOW_FILE`) become ``PETPRO_DBT_MIN_DATE``/``PETPRO_DBT_MAX_DATE`` (read by the
macro ``window_bound``), because a window passed in ``--vars`` would make dbt re-parse the
whole project every night. And it answers ``dbt --version`` itself (:func:`version_text`):
dagster-dbt asks it once per step process, and dbt's own answer costs a full dbt start plus a
request to PyPI for the latest release, which a run must not make. Run as a script, this file
imports only the standard library and :mod:`petpro.parent_death` (itself standard library
only), so dbt's start pays for no more.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from petpro.parent_death import die_with_parent

if TYPE_CHECKING:
    from petpro.settings import Settings

# In the invocation's target folder (DBT_TARGET_PATH): {"min_date": "...", "max_date": "..."}.
WINDOW_FILE = "run_window.json"
WINDOW_ENV = {"min_date": "PETPRO_DBT_MIN_DATE", "max_date": "PETPRO_DBT_MAX_DATE"}


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


def window_env(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with the window variables of this invocation's window file, and without
    any inherited from elsewhere (no file: no window, dbt falls back to ``--vars``)."""
    env = {key: value for key, value in environ.items() if key not in WINDOW_ENV.values()}
    target = environ.get("DBT_TARGET_PATH")
    if not target:
        return env
    try:
        window = json.loads((Path(target) / WINDOW_FILE).read_text())
    except FileNotFoundError:
        return env
    env.update({WINDOW_ENV[key]: str(value) for key, value in window.items() if key in WINDOW_ENV})
    return env


def version_text() -> str:
    """What ``dbt --version`` prints, from the installed distributions, without the network."""
    lines = ["Core:", f"  - installed: {metadata.version('dbt-core')}", "", "Plugins:"]
    for plugin in ("duckdb", "spark"):
        try:
            lines.append(f"  - {plugin}: {metadata.version(f'dbt-{plugin}')}")
        except metadata.PackageNotFoundError:
            continue
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parent, dbt, *args = argv
    if args == ["--version"]:
        print(version_text())
        return
    if not die_with_parent(int(parent)):  # the step died before the request took effect
        sys.exit("dbt not started: the process that asked for it is gone")
    os.execve(dbt, [dbt, *args], window_env(dict(os.environ)))


if __name__ == "__main__":
    main(sys.argv[1:])
