"""PETPRO_ENGINE picks dbt's target in the one place that builds dbt's environment.

Dagster's dbt assets inherit that environment, so checking ``dbt_env`` covers both paths.
The Spark prerequisites (dbt-spark, Java) fail with one line saying what to install.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from petpro.settings import SettingsError, get_settings


def test_engine_selects_the_dbt_target_and_exports_the_spark_settings(tmp_path: Path) -> None:
    from warehouse.dbt import dbt_env

    duck = get_settings(home=tmp_path)
    assert duck.engine == "duckdb"
    assert dbt_env(duck)["DBT_TARGET"] == "build"

    spark = get_settings(home=tmp_path, engine="spark", spark_schema="analytics")
    env = dbt_env(spark)
    assert env["DBT_TARGET"] == "spark"
    assert env["PETPRO_SPARK_SCHEMA"] == "analytics"
    assert env["PETPRO_SPARK_LAKE_URL"] == str(tmp_path.resolve() / "lake")
    assert env["PETPRO_SPARK_WAREHOUSE_URL"] == str(
        tmp_path.resolve() / "warehouse" / "spark" / "tables"
    )
    assert Path(env["PETPRO_SPARK_LOG4J"]).is_file()

    cluster = get_settings(
        home=tmp_path,
        engine="spark",
        spark_method="thrift",
        lake_url="s3://lake/prod/",
        spark_lake_url="s3a://lake/prod",
    )
    env = dbt_env(cluster)
    assert env["DBT_TARGET"] == "spark_thrift"
    assert env["PETPRO_SPARK_LAKE_URL"] == "s3a://lake/prod"
    assert cluster.lake_location == "s3://lake/prod"


def test_an_unknown_engine_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="engine"):
        get_settings(home=tmp_path, engine="oracle")


def test_spark_without_java_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse.dbt import DbtError, run_dbt

    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    settings = get_settings(home=tmp_path, engine="spark")
    with pytest.raises(DbtError, match="openjdk-17-jre-headless"):
        run_dbt(settings, ["debug"], capture=True)


def test_each_engine_keeps_its_own_dagster_manifest(tmp_path: Path) -> None:
    # Test ids on the quoted `interval` column differ by engine: a manifest parsed for DuckDB
    # would name tests a Spark run never reports (dagster-dbt then fails on the Spark ids).
    from orchestration.manifest import manifest_path

    duck = manifest_path(get_settings(home=tmp_path))
    spark = manifest_path(get_settings(home=tmp_path, engine="spark"))
    assert duck != spark
    assert duck.parent.parent == spark.parent.parent  # both under dbt_project/target/
