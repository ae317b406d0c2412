"""`petpro source seed|simulate-day` from the command line (results and messages), and the
demo's source preparation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from petpro.settings import Settings

PETPRO = [sys.executable, "-m", "cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PETPRO, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_seed_and_simulate_through_the_cli(settings: Settings, source_url: str) -> None:
    seeded = run_cli("source", "seed", "--customers", "120", "--days", "30", "--seed", "9")
    assert seeded.returncode == 0, seeded.stderr
    assert "rows/s" in seeded.stdout
    with psycopg.connect(source_url) as conn:
        (customers,) = conn.execute("select count(*) from users where role = 'customer'").fetchone()  # type: ignore[misc]
        (before,) = conn.execute("select count(*) from activities").fetchone()  # type: ignore[misc]
    assert customers == 120
    again = run_cli("source", "seed", "--customers", "120", "--days", "30")
    assert again.returncode == 1 and "--reset" in again.stderr
    assert "Traceback" not in again.stdout + again.stderr
    day = run_cli("source", "simulate-day")
    assert day.returncode == 0, day.stderr
    assert "late activities" in day.stdout
    with psycopg.connect(source_url) as conn:
        (after,) = conn.execute("select count(*) from activities").fetchone()  # type: ignore[misc]
    assert after > before
    spike = run_cli("source", "simulate-day", "--incident", "signup_spike")
    assert spike.returncode == 0, spike.stderr
    assert "incident: signup_spike" in spike.stdout


def test_demo_source_is_kept_when_it_holds_data(settings: Settings, source_url: str) -> None:
    # `petpro demo` runs the whole pipeline (orchestration); its source step is this function.
    from cli.demo import prepare_demo_source

    assert run_cli("source", "seed", "--customers", "40", "--days", "10").returncode == 0
    with psycopg.connect(source_url) as conn:
        (before,) = conn.execute("select count(*) from activities").fetchone()  # type: ignore[misc]
    assert prepare_demo_source(settings) == source_url
    with psycopg.connect(source_url) as conn:
        (after,) = conn.execute("select count(*) from activities").fetchone()  # type: ignore[misc]
    assert after == before


@pytest.mark.parametrize(
    "command", [["seed", "--customers", "10", "--days", "5"], ["simulate-day"]]
)
def test_stopped_embedded_server(tmp_path: Path, command: list[str]) -> None:
    env = {"PETPRO_HOME": str(tmp_path), "PETPRO_SOURCE_URL": "", "PETPRO_SOURCE_PORT": "1"}
    result = run_cli("source", *command, env=env)
    assert result.returncode == 1
    assert "not running" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command", [["seed", "--customers", "10", "--days", "5"], ["simulate-day"]]
)
def test_bad_url(tmp_path: Path, command: list[str]) -> None:
    env = {
        "PETPRO_HOME": str(tmp_path),
        "PETPRO_SOURCE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run_cli("source", *command, env=env)
    assert result.returncode == 1
    assert "cannot connect to the source database" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["seed", "--customers", "-5"], "--customers must be at least 1"),
        (["seed", "--days", "0"], "--days must be at least 1"),
        (["seed", "--end-date", "2025-02-30"], "is not a date"),
        (["seed", "--end-date", "2999-01-01"], "in the future"),
        (["seed", "--customers", "many"], "many"),
        (["simulate-day", "--date", "yesterday"], "is not a date"),
        (["simulate-day", "--incident", "meteor"], "unknown incident 'meteor': choose one of"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    env = {
        "PETPRO_HOME": str(tmp_path),
        "PETPRO_SOURCE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run_cli("source", *args, env=env)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
