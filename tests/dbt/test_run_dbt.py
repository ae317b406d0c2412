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
from warehouse.dbt import DbtError, NodeResult, build_command, dbt_env, node_error, run_dbt

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
    connection): DuckDB itself reports 123 MB as 117.3 MiB, its own default is 80 % of RAM.
    The checkpoint threshold stays DuckDB's own (16 MB): with one checkpoint per build
    (``1GB``) table blocks stayed in DuckDB's pool through a nightly's late, small nodes, and
    in a ``384MB`` pool every nightly build after a full rebuild ran out of memory
    (docs/warehouse.md, "No checkpoint threshold of our own")."""
    import duckdb

    settings = get_settings(home=tmp_path, duckdb_memory_limit="123MB")
    run = run_dbt(
        settings,
        [
            "show",
            "--inline",
            "select current_setting('memory_limit') as memory_limit, "
            "current_setting('checkpoint_threshold') as checkpoint_threshold",
        ],
        capture=True,
    )
    assert "117.3 MiB" in run.output, run.output
    with duckdb.connect() as con:
        default = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]
    row = next(line for line in run.output.splitlines() if "117.3 MiB" in line)
    assert [cell.strip() for cell in row.strip(" |").split("|")] == ["117.3 MiB", default], row


def test_a_memory_limit_duckdb_cannot_read_is_refused(tmp_path: Path) -> None:
    from petpro.settings import SettingsError

    with pytest.raises(SettingsError, match="PETPRO_DUCKDB_MEMORY_LIMIT='lots' is not a size"):
        get_settings(home=tmp_path, duckdb_memory_limit="lots")


def test_a_dbt_started_by_hand_gets_the_defaults_of_the_settings(tmp_path: Path) -> None:
    """profiles.yml repeats the defaults of ``PETPRO_DBT_THREADS`` and
    ``PETPRO_DUCKDB_MEMORY_LIMIT`` for a dbt started without ``dbt_env`` (a real dbt
    connection): both must be the settings' own, as dbt and DuckDB report them."""
    import duckdb

    defaults = get_settings(home=tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PETPRO_", "DBT_"))}
    env.update(PETPRO_HOME=str(tmp_path), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    (tmp_path / "warehouse").mkdir()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "show", "--inline",
         "select current_setting('memory_limit') as pool",
         "--project-dir", str(defaults.dbt_project_dir),
         "--profiles-dir", str(defaults.dbt_project_dir),
         "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
        env=env, capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Concurrency: {defaults.dbt_threads} threads" in proc.stdout, proc.stdout
    with duckdb.connect(config={"memory_limit": defaults.duckdb_memory_limit}) as con:
        expected = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert expected in proc.stdout, (expected, proc.stdout)


def test_out_of_memory_names_the_threads_only_when_nodes_share_the_pool(tmp_path: Path) -> None:
    results = [
        NodeResult("model.petpro.int_customers", "error", "Out of Memory Error: failed", 0.6)
    ]
    limit = {"home": tmp_path, "duckdb_memory_limit": "384MB"}
    one = node_error(results, get_settings(**limit, dbt_threads=1)) or ""
    assert one.endswith("PETPRO_DUCKDB_MEMORY_LIMIT=384MB: raise it"), one
    two = node_error(results, get_settings(**limit, dbt_threads=2)) or ""
    assert two.endswith("raise it, or lower PETPRO_DBT_THREADS=2"), two


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
