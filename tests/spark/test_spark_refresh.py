"""`PETPRO_ENGINE=spark petpro refresh --full` publishes, through Dagster, unchanged.

The command a person runs, as a subprocess, on a small seeded source: ingestion, the quality
checks, the dbt step of the Dagster job (one `dbt build`) on the local Spark session, and the publish
step (which loads Spark's Parquet marts). Equality with DuckDB is the business of
``test_engine_equality.py``; this checks the orchestration path end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from petpro.settings import REPO_ROOT, get_settings
from petpro.vocabulary import CONTRACT_MARTS
from sourcedb.schema import create_schema

# Spark in local mode on a shared 2-core machine: minutes, not the suite default of 15.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2700)]


def test_petpro_refresh_on_spark_publishes(pg_admin_url: str, tmp_path: Path) -> None:
    from sourcedb.seed import seed_source
    from warehouse.publish import read_publication

    name = f"spark_refresh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**info)
    try:
        with psycopg.connect(url) as conn:
            create_schema(conn)
        seed_source(url, customers=60, days=20, end_date=date(2025, 4, 17), seed=3)
        home = tmp_path / "home"
        env = {
            **os.environ,
            "PETPRO_HOME": str(home),
            "PETPRO_SOURCE_URL": url,
            "PETPRO_PII_KEY": "test-pii-key",
            "PETPRO_TIMEZONE": "Europe/Berlin",
            "PETPRO_PARTITIONS_START": "2025-03-01",
            "PETPRO_ENGINE": "spark",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "refresh", "--full"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
        settings = get_settings(home=home, engine="spark")
        publication = read_publication(settings)
        assert publication is not None, "nothing was published"
        assert set(CONTRACT_MARTS) <= set(publication.row_counts)
        assert publication.row_counts["mart_customer_profile"] == 60
        # The marts came from Spark: its tables exist and the build file holds only marts.
        spark_tables = Path(settings.spark_warehouse_location) / "petpro.db"
        assert (spark_tables / "mart_customer_profile").is_dir()
        assert (spark_tables / "int_customer_daily_activity").is_dir()
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
