"""The marts of a Spark run, loaded into ``build.duckdb`` so the one publish path serves both engines.

With ``PETPRO_ENGINE=spark`` dbt writes every model as a plain Parquet table under Spark's
warehouse (``<PETPRO_SPARK_WAREHOUSE_URL>/<schema>.db/<model>/``, hive-partitioned for the
incremental facts). :func:`load_spark_marts` reads each mart's Parquet files (a local folder,
or any URL pyarrow has a filesystem for: ``s3://``, ``gs://``, ``abfs://``, ``hdfs://``) and
writes them into a fresh ``build.duckdb`` with the columns, order and DuckDB types of the
marts' contracts (``dbt_project/models/marts/*.yml``), then swaps it in place of the old
one. :func:`warehouse.publish.publish` then publishes it exactly as after a DuckDB build, so
the published ``warehouse.duckdb``, the Parquet marts and every reader are unchanged.

The contract is enforced here for Spark: a mart the run did not write, or a contract column
its files lack, stops the load with one line saying which; nothing is swapped.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import duckdb
import jinja2
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import yaml

from petpro.durability import fsync_file
from petpro.errors import PetProError
from petpro.lake_url import filesystem_and_path
from petpro.settings import Settings


class SparkMartsError(PetProError):
    """The marts written by Spark cannot be loaded; build.duckdb is left as it was."""


@dataclass(frozen=True)
class MartContract:
    """A mart's columns in contract order, each with its DuckDB type."""

    name: str
    columns: tuple[tuple[str, str], ...]


def _duckdb_type(data_type: str) -> str:
    # Two contract types differ by engine and are written as Jinja on target.type.
    if "{{" in data_type:
        data_type = jinja2.Template(data_type).render(target={"type": "duckdb"})
    return data_type.strip()


def mart_contracts(settings: Settings) -> list[MartContract]:
    """The contracts of the ``mart_*`` models, from the marts' schema files."""
    contracts: list[MartContract] = []
    for path in sorted((settings.dbt_project_dir / "models" / "marts").glob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for model in document.get("models") or []:
            name = str(model.get("name", ""))
            if not name.startswith("mart_"):
                continue
            columns = tuple(
                (str(c["name"]), _duckdb_type(str(c["data_type"])))
                for c in model.get("columns") or []
                if c.get("data_type")
            )
            contracts.append(MartContract(name=name, columns=columns))
    return contracts


def mart_location(settings: Settings, mart: str) -> str:
    """Where Spark keeps a managed table of the models' schema."""
    return f"{settings.spark_warehouse_location}/{settings.spark_schema}.db/{mart}"


def _dataset(settings: Settings, mart: str) -> ds.Dataset | None:
    """The mart's Parquet files as a dataset (None when Spark wrote no folder for it)."""
    fs, path = filesystem_and_path(mart_location(settings, mart))
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.Directory:
        return None
    # Spark's _SUCCESS and .crc files start with "_" / "." and are skipped by default.
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _load_mart(con: duckdb.DuckDBPyConnection, contract: MartContract, source: Any) -> int:
    table = _quote(contract.name)
    names = set(source.schema.names) if source is not None else set()
    missing = [c for c, _ in contract.columns if c not in names]
    if source is not None and source.count_rows() > 0 and missing:
        raise SparkMartsError(
            f"the Spark table {contract.name} has no column(s) {', '.join(missing)} of its "
            "contract: rebuild it (`petpro dbt build --full-refresh --select "
            f"{contract.name}` with PETPRO_ENGINE=spark)"
        )
    if source is None or source.count_rows() == 0:
        columns = ", ".join(f"{_quote(c)} {t}" for c, t in contract.columns)
        con.execute(f"create table main.{table} ({columns})").fetchall()
        return 0
    con.register("spark_mart", source)
    try:
        select = ", ".join(f"cast({_quote(c)} as {t}) as {_quote(c)}" for c, t in contract.columns)
        con.execute(f"create table main.{table} as select {select} from spark_mart").fetchall()
    finally:
        con.unregister("spark_mart")
    return int(con.execute(f"select count(*) from main.{table}").fetchall()[0][0])


def load_spark_marts(settings: Settings) -> dict[str, int]:
    """Replace ``build.duckdb`` with the marts of the last Spark run; return their row counts."""
    contracts = mart_contracts(settings)
    datasets = {c.name: _dataset(settings, c.name) for c in contracts}
    absent = [name for name, d in datasets.items() if d is None]
    if absent:
        raise SparkMartsError(
            f"the Spark run wrote no table for {', '.join(absent)} under "
            f"{settings.spark_warehouse_location}/{settings.spark_schema}.db: run "
            "`petpro refresh` (or `petpro dbt build`) with PETPRO_ENGINE=spark first"
        )
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.build_db.with_name(f".{settings.build_db.name}.{os.getpid()}.tmp")
    counts: dict[str, int] = {}
    try:
        with duckdb.connect(str(tmp)) as con:
            con.execute("set TimeZone = 'UTC'").fetchall()
            for contract in contracts:
                counts[contract.name] = _load_mart(con, contract, datasets[contract.name])
            con.execute("checkpoint").fetchall()
        fsync_file(tmp)
        os.replace(tmp, settings.build_db)
    except Exception as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, PetProError):
            raise
        raise SparkMartsError(
            f"loading the Spark marts into {settings.build_db} failed "
            f"({type(exc).__name__}: {exc}); build.duckdb is unchanged"
        ) from exc
    return counts
