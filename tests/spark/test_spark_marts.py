"""Loading the marts a Spark run wrote into build.duckdb, without starting Spark.

The Parquet files are laid out as Spark writes managed tables (``<schema>.db/<mart>/``,
``part-*.parquet``, ``_SUCCESS``, ``activity_date=`` folders whose column Spark moves to the
end of the schema, strings for timestamps' zone-less cousins); the loader must restore the
contract's column order and DuckDB types, and refuse — leaving build.duckdb untouched — when
a mart is missing or lacks a contract column.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import jinja2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from petpro.settings import Settings, get_settings
from warehouse.spark_marts import SparkMartsError, load_spark_marts, mart_contracts

ARROW = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "integer": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "decimal(18,2)": pa.decimal128(18, 2),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "varchar[]": pa.list_(pa.string()),
}
SAMPLE = {
    "string": "x",
    "bigint": 7,
    "integer": 3,
    "double": 0.5,
    "boolean": True,
    "date": date(2025, 3, 30),
    "decimal(18,2)": Decimal("39.99"),
    "timestamptz": datetime(2025, 3, 30, 1, 30, tzinfo=UTC),
    "varchar[]": ["cat", "dog"],
}


def write_spark_tables(settings: Settings, skip: str | None = None) -> None:
    root = Path(settings.spark_warehouse_location) / f"{settings.spark_schema}.db"
    for contract in mart_contracts(settings):
        if contract.name == skip:
            continue
        folder = root / contract.name
        folder.mkdir(parents=True)
        (folder / "_SUCCESS").write_text("")
        columns = [(c, t.replace(" ", "")) for c, t in contract.columns]
        if contract.name == "mart_customer_activity_daily":
            # Spark's partitioned table: activity_date is the folder, not a file column.
            data = [(c, t) for c, t in columns if c != "activity_date"]
            folder = folder / "activity_date=2025-03-30"
            folder.mkdir()
        else:
            data = columns[::-1]  # any column order
        table = pa.table(
            {c: pa.array([SAMPLE[t]], type=ARROW[t]) for c, t in data},
        )
        pq.write_table(table, folder / "part-00000-abc.snappy.parquet")


def test_spark_marts_load_with_the_contract_order_and_types(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path, engine="spark")
    write_spark_tables(settings)
    counts = load_spark_marts(settings)
    assert set(counts) == {c.name for c in mart_contracts(settings)}
    assert all(n == 1 for n in counts.values())
    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_name = 'mart_customer_activity_daily' order by ordinal_position"
        ).fetchall()
        assert columns == [
            ("customer_id", "VARCHAR"),
            ("activity_date", "DATE"),
            ("activity_type", "VARCHAR"),
            ("events", "BIGINT"),
        ]
        profile = con.execute(
            "select signup_at, pet_species, typeof(signup_at) from mart_customer_profile"
        ).fetchall()
        assert profile[0][1] == ["cat", "dog"]
        assert profile[0][2] == "TIMESTAMP WITH TIME ZONE"
        money = con.execute("select typeof(gross_revenue), gross_revenue from mart_service_usage")
        assert money.fetchall() == [("DECIMAL(18,2)", Decimal("39.99"))]


def test_a_mart_spark_did_not_write_stops_the_load(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path, engine="spark")
    settings.warehouse_dir.mkdir(parents=True)
    settings.build_db.write_bytes(b"previous build")
    write_spark_tables(settings, skip="mart_active_users")
    with pytest.raises(SparkMartsError, match="wrote no table for mart_active_users"):
        load_spark_marts(settings)
    assert settings.build_db.read_bytes() == b"previous build"


# Types Spark's parser accepts in a contract and a cast (a bare VARCHAR needs a length there,
# TIMESTAMPTZ does not exist): dbt renders every contract type on both engines.
SPARK_TYPES = {
    "string",
    "bigint",
    "integer",
    "double",
    "boolean",
    "date",
    "decimal(18,2)",
    "timestamp_ltz",
    "array<string>",
}


def test_every_contract_type_is_valid_on_spark_and_loads_on_duckdb(tmp_path: Path) -> None:
    settings = get_settings(home=tmp_path, engine="spark")
    seen = set()
    for path in sorted((settings.dbt_project_dir / "models").rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models") or []:
            for column in model.get("columns") or []:
                if "data_type" not in column:
                    continue
                spark_type = jinja2.Template(str(column["data_type"])).render(
                    target={"type": "spark"}
                )
                assert spark_type.replace(" ", "") in SPARK_TYPES, (
                    f"{path.name}: {model['name']}.{column['name']} has type {spark_type!r}, "
                    "which Spark cannot parse: write it portably (string, not varchar)"
                )
                seen.add(spark_type)
    assert "string" in seen
    # ...and every DuckDB type of the mart contracts is one the loader test writes above.
    for contract in mart_contracts(settings):
        assert {t.replace(" ", "") for _, t in contract.columns} <= set(ARROW), contract.name
