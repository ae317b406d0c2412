"""``warehouse.dbt`` command building and the ``petpro dbt`` pass-through (real dbt, no lake)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from petpro.settings import get_settings
from petpro.vocabulary import CONTRACT_MARTS, DERIVED_MARTS
from warehouse.dbt import DbtError, build_command, dbt_env, run_dbt

MARTS = set(CONTRACT_MARTS) - DERIVED_MARTS  # derived marts join at publish time


def test_build_command_places_project_and_vars_after_the_subcommand(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path, timezone="Europe/Berlin", dbt_threads=3)
    cmd = build_command(settings, ["docs", "generate"], {"min_date": "2025-01-01"})
    assert cmd[-6:-4] == ["--project-dir", str(settings.dbt_project_dir)]
    assert cmd[-4:-2] == ["--profiles-dir", str(settings.dbt_project_dir)]
    assert cmd[-2] == "--vars" and json.loads(cmd[-1]) == {"min_date": "2025-01-01"}
    assert "--project-dir" not in build_command(settings, ["--version"])
    with pytest.raises(DbtError):
        build_command(settings, ["debug"], {"x": 1})
    env = dbt_env(settings)
    assert env["PETPRO_HOME"] == str(tmp_path.resolve())
    assert env["PETPRO_TIMEZONE"] == "Europe/Berlin"
    assert env["DBT_THREADS"] == "3"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"


def test_duckdb_runs_with_the_memory_limit_of_the_settings(tmp_path: Path) -> None:
    """``PETPRO_DUCKDB_MEMORY_LIMIT`` reaches DuckDB through profiles.yml (a real dbt
    connection): DuckDB itself reports 123 MB as 117.3 MiB, its own default is 80 % of RAM."""
    settings = get_settings(home=tmp_path, duckdb_memory_limit="123MB")
    run = run_dbt(
        settings,
        ["show", "--inline", "select current_setting('memory_limit') as memory_limit"],
        capture=True,
    )
    assert "117.3 MiB" in run.output, run.output


def test_a_memory_limit_duckdb_cannot_read_is_refused(tmp_path: Path) -> None:
    from petpro.settings import SettingsError

    with pytest.raises(SettingsError, match="PETPRO_DUCKDB_MEMORY_LIMIT='lots' is not a size"):
        get_settings(home=tmp_path, duckdb_memory_limit="lots")


def test_petpro_dbt_passes_arguments_through(tmp_path: Path) -> None:
    """`petpro dbt ls` lists exactly the marts of the data-layout contract."""
    env = dict(os.environ, PETPRO_HOME=str(tmp_path), PETPRO_TIMEZONE="UTC")
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "dbt", "ls", "--resource-type", "model",
         "--select", "marts", "--output", "name", "--quiet"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    listed = {line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("mart_")}
    assert listed == MARTS
    assert (tmp_path / "warehouse" / "dbt_target" / "manifest.json").exists()
