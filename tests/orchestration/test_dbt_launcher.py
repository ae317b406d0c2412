"""The dbt launcher: it hands dbt the run's window from the invocation's target folder, drops
window variables inherited from elsewhere, and answers ``--version`` without starting dbt.

The launcher runs as a script, as dagster-dbt starts it; ``/usr/bin/env`` stands in for dbt
so the environment dbt would get is printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import dbt.version

from orchestration import dbt_launcher
from petpro.settings import Settings

LAUNCHER = Path(dbt_launcher.__file__)


def _launch(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, str(LAUNCHER), str(os.getpid()), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _env_of_dbt(env: dict[str, str]) -> dict[str, str]:
    out = _launch(["/usr/bin/env"], env)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_window_file_becomes_the_environment_of_dbt(tmp_path: Path) -> None:
    (tmp_path / "run_window.json").write_text(
        json.dumps({"min_date": "2026-11-29", "max_date": "2026-12-02"})
    )
    seen = _env_of_dbt({"PATH": os.environ["PATH"], "DBT_TARGET_PATH": str(tmp_path)})
    assert seen["PETPRO_DBT_MIN_DATE"] == "2026-11-29"
    assert seen["PETPRO_DBT_MAX_DATE"] == "2026-12-02"


def test_no_window_file_means_no_window_even_if_inherited(tmp_path: Path) -> None:
    """A window left in the caller's environment must not narrow a full rebuild."""
    seen = _env_of_dbt(
        {
            "PATH": os.environ["PATH"],
            "DBT_TARGET_PATH": str(tmp_path),
            "PETPRO_DBT_MIN_DATE": "2026-01-01",
            "PETPRO_DBT_MAX_DATE": "2026-01-02",
            "KEPT": "yes",
        }
    )
    assert "PETPRO_DBT_MIN_DATE" not in seen and "PETPRO_DBT_MAX_DATE" not in seen
    assert seen["KEPT"] == "yes"


def test_version_answer_is_what_dagster_dbt_reads(tmp_path: Path) -> None:
    """dagster-dbt takes the first x.y.z of ``dbt --version`` as the dbt version; the
    launcher's own answer must give the installed dbt-core's (dbt's module says which). A
    nonexistent dbt executable proves dbt itself was not started."""
    out = _launch([str(tmp_path / "no-dbt-here"), "--version"], {"PATH": os.environ["PATH"]})
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    assert match and match.group(1) == dbt.version.__version__


def test_dagster_runs_dbt_without_an_adapter_in_its_own_process(
    settings: Settings, tmp_path: Path
) -> None:
    """dagster-dbt imports dbt-core and the DuckDB adapter into the run's process before each
    invocation (for metadata fetching PetPro never asks for: 2-3 s and ~50 MiB beside dbt);
    the resource the definitions hand it starts dbt without it, and dbt still runs."""
    from orchestration.defs.warehouse import dbt_project, dbt_resource

    resource = dbt_resource(settings, dbt_project(settings))
    invocation = resource.cli(
        ["ls", "--resource-type", "model", "--output", "name"], target_path=tmp_path / "ls"
    )
    invocation.wait()
    assert invocation.is_successful()
    assert invocation.adapter is None
    manifest = json.loads((tmp_path / "ls" / "manifest.json").read_text())
    assert "model.petpro.mart_active_users" in manifest["nodes"]
