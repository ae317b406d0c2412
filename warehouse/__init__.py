"""The warehouse: the dbt project on DuckDB that turns the Parquet lake into marts.

``warehouse.dbt`` is the one way the project runs dbt (CLI, Dagster, tests, benchmarks): it
points dbt at ``dbt_project/`` with the environment every model expects (``PETPRO_HOME``,
``PETPRO_TIMEZONE``, threads, telemetry off) and turns a failed run into one readable line.
This package never imports Dagster.
"""
