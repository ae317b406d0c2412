"""The embedded server, schema creation and the `petpro source` commands' messages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

from petpro.vocabulary import ACTIVITY_TYPES
from sourcedb.schema import SOURCE_TABLES, create_schema
from tests.ports import free_port

PETPRO = [sys.executable, "-m", "cli"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [*PETPRO, *args], capture_output=True, text=True, env=full_env, timeout=300, check=False
    )


def test_schema_creation_is_idempotent(source_url: str) -> None:
    with psycopg.connect(source_url) as conn:
        create_schema(conn)
        create_schema(conn)
        tables = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'public'"
            )
        }
        enum_values = [
            r[0]
            for r in conn.execute(
                "select e.enumlabel from pg_enum e join pg_type t on t.oid = e.enumtypid "
                "where t.typname = 'activity_type' order by e.enumsortorder"
            )
        ]
    assert tables == set(SOURCE_TABLES)
    assert tuple(enum_values) == ACTIVITY_TYPES
    assert len(enum_values) == 21


def test_updated_at_trigger_moves_cursor(source_url: str) -> None:
    with psycopg.connect(source_url) as conn:
        conn.execute(
            "insert into users (first_name, last_name, email, password_hash, created_at, updated_at)"
            " values ('a', 'b', 'a@example.com', 'x', '2020-01-01', '2020-01-01')"
        )
        conn.execute("update users set preferred_language = 'de'")
        (updated,) = conn.execute("select updated_at from users").fetchone()
    assert updated.year >= 2025


def test_status_reports_stopped_embedded_server(tmp_path: Path) -> None:
    env = {"PETPRO_HOME": str(tmp_path), "PETPRO_SOURCE_URL": "", "PETPRO_SOURCE_PORT": "1"}
    result = run_cli("source", "status", env=env)
    assert result.returncode == 1
    assert "stopped" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_url_gives_one_clear_line(tmp_path: Path) -> None:
    env = {
        "PETPRO_HOME": str(tmp_path),
        "PETPRO_SOURCE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }
    result = run_cli("source", "start", env=env)
    assert result.returncode == 1
    assert "cannot connect to the source database" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_timezone_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(
        "source", "url", env={"PETPRO_HOME": str(tmp_path), "PETPRO_TIMEZONE": "Mars/Olympus"}
    )
    assert result.returncode == 1
    assert "PETPRO_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_server_running_on_another_port_is_one_clear_line() -> None:
    """`petpro source start` with PETPRO_SOURCE_PORT changed while the home's server runs
    on the old port: one line naming both ports, not a refused connection's traceback."""
    # Not under pytest's basetemp (mode 0700): the unprivileged postgres user must reach it.
    home = tempfile.mkdtemp(prefix="petpro-test-port-")
    first, second = free_port(), free_port()
    env = {"PETPRO_HOME": home, "PETPRO_SOURCE_URL": ""}
    try:
        started = run_cli("source", "start", env={**env, "PETPRO_SOURCE_PORT": str(first)})
        assert started.returncode == 0, started.stderr
        again = run_cli("source", "start", env={**env, "PETPRO_SOURCE_PORT": str(second)})
        assert again.returncode == 1
        lines = again.stderr.strip().splitlines()
        assert len(lines) == 1, again.stderr
        assert f"running on port {first}, not {second}" in lines[0]
        assert f"PETPRO_SOURCE_PORT={first}" in lines[0]
        assert "Traceback" not in again.stdout + again.stderr
    finally:
        run_cli("source", "stop", env={**env, "PETPRO_SOURCE_PORT": str(first)})
        shutil.rmtree(home, ignore_errors=True)
