"""Read-only access to the published warehouse: the ``_publication`` record and the marts.

Exports read ``$PETPRO_HOME/published/warehouse.duckdb`` opened ``read_only`` and never the
build database, so an export can run while dbt rebuilds: publishing swaps the file with
``os.replace`` and an open connection keeps reading the version it opened, which is also why
every report of one export comes from one consistent publication. Rows come back in a
deterministic order (grain keys first, then every other column) so that re-exporting the same
publication gives byte-identical files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from exports.errors import ExportError, NothingPublishedError
from exports.reports import Report
from petpro.settings import Settings
from petpro.vocabulary import CUSTOMER_LEVEL_MARTS, PII_COLUMNS

# Columns that identify a person: never written to a report file, whatever a mart holds.
FORBIDDEN_COLUMNS: frozenset[str] = PII_COLUMNS | {"customer_id", "user_id"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_epoch_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class MartPublication:
    """One row of ``_publication``: when and by which run a mart was published."""

    mart: str
    run_id: str
    published_at: datetime
    high_water_mark: datetime | None
    row_count: int


@dataclass(frozen=True)
class Publication:
    """The publication an export reads (the newest run recorded in ``_publication``)."""

    run_id: str
    published_at: datetime
    high_water_mark: datetime | None
    marts: dict[str, MartPublication]

    def for_mart(self, mart: str) -> MartPublication:
        found = self.marts.get(mart)
        if found is None:
            raise ExportError(
                f"{mart} is not listed in the published _publication table: the publication is "
                "incomplete, run `petpro refresh` to publish again"
            )
        return found


@dataclass(frozen=True)
class ReportData:
    """The rows of one report, their SQL types, and the date filter applied (if any)."""

    report: Report
    table: pa.Table
    sql_types: list[str]
    filter: dict[str, str | None] | None
    sources: tuple[str, ...]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class PublishedWarehouse:
    """A read-only connection to ``published/warehouse.duckdb`` (use as a context manager)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path: Path = settings.published_db
        self._con: duckdb.DuckDBPyConnection | None = None
        self._publication: Publication | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> PublishedWarehouse:
        if not self.path.is_file():
            raise NothingPublishedError(
                f"nothing is published yet ({self.path} does not exist): run `petpro refresh` "
                "(or `petpro demo`) first"
            )
        try:
            self._con = self._connect()
        except duckdb.Error as exc:
            raise ExportError(
                f"cannot open the published warehouse {self.path} read-only ({exc}); "
                "re-publish it with `petpro refresh`"
            ) from exc
        return self

    def _connect(self, attempts: int = 10) -> duckdb.DuckDBPyConnection:
        # The publisher only ever renames finished files into place, but a process that has
        # just opened the published file read-write (a check, an inspection) holds DuckDB's
        # file lock for a moment: wait for it briefly instead of failing the export.
        for attempt in range(attempts):
            try:
                return duckdb.connect(str(self.path), read_only=True)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or attempt == attempts - 1:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("PublishedWarehouse used outside its `with` block")
        return self._con

    # ---- queries --------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> tuple[pa.Table, list[str]]:
        """Run a query; return the rows as Arrow and the DuckDB type of each column."""
        rel = self.con.sql(sql, params=params)
        types = [str(t) for t in rel.types]
        return rel.to_arrow_table(), types

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def _has_table(self, name: str) -> bool:
        found = self.rows(
            "select count(*) from information_schema.tables "
            "where table_schema = 'main' and table_name = ?",
            [name],
        )
        return bool(found[0][0])

    @property
    def publication(self) -> Publication:
        if self._publication is None:
            self._publication = self._read_publication()
        return self._publication

    def _read_publication(self) -> Publication:
        if not self._has_table("_publication"):
            raise NothingPublishedError(
                f"{self.path} has no _publication table, so nothing was published by the "
                "pipeline yet: run `petpro refresh`"
            )
        rows = self.rows(
            "select mart, run_id, epoch_us(published_at), epoch_us(high_water_mark), row_count "
            "from _publication order by mart"
        )
        if not rows:
            raise NothingPublishedError(
                f"{self.path} records no published mart yet: run `petpro refresh`"
            )
        marts: dict[str, MartPublication] = {}
        for mart, run_id, published_us, hwm_us, row_count in rows:
            published_at = _from_epoch_us(published_us)
            if published_at is None:
                raise ExportError(
                    f"_publication row of {mart} has no published_at: re-run `petpro refresh`"
                )
            marts[mart] = MartPublication(
                mart, str(run_id), published_at, _from_epoch_us(hwm_us), int(row_count)
            )
        newest = max(marts.values(), key=lambda m: (m.published_at, m.run_id))
        hwms = [m.high_water_mark for m in marts.values() if m.high_water_mark is not None]
        return Publication(
            run_id=newest.run_id,
            published_at=newest.published_at,
            high_water_mark=max(hwms) if hwms else None,
            marts=marts,
        )

    def read_report(
        self, report: Report, *, date_from: date | None = None, date_to: date | None = None
    ) -> ReportData:
        """Read a mart-backed report, ordered by its grain, filtered on its period column."""
        mart = report.mart
        if mart is None:
            raise ValueError(f"{report.name} is derived, not read from one mart")
        if mart in CUSTOMER_LEVEL_MARTS:
            raise ExportError(f"{mart} holds per-customer rows and is never exported")
        if not self._has_table(mart):
            raise ExportError(
                f"the published warehouse has no table {mart}: publish a warehouse built by "
                "this version with `petpro refresh`"
            )
        columns = [
            r[0]
            for r in self.rows(
                "select column_name from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [mart],
            )
        ]
        forbidden = sorted(c for c in columns if c.lower() in FORBIDDEN_COLUMNS)
        if forbidden:
            raise ExportError(
                f"{mart} has personal-data column(s) {', '.join(forbidden)}; refusing to export "
                "it — fix the mart so that it identifies no person"
            )
        missing = [c for c in report.grain if c not in columns]
        if missing:
            raise ExportError(
                f"{mart} lacks column(s) {', '.join(missing)} of the data contract: publish a "
                "warehouse built by this version with `petpro refresh`"
            )

        where: list[str] = []
        params: list[Any] = []
        applied: dict[str, str | None] | None = None
        if report.period_column and (date_from or date_to):
            col = _quote(report.period_column)
            if date_from:
                where.append(f"{col} >= ?")
                params.append(date_from)
            if date_to:
                where.append(f"{col} <= ?")
                params.append(date_to)
            applied = {
                "column": report.period_column,
                "from": date_from.isoformat() if date_from else None,
                "to": date_to.isoformat() if date_to else None,
            }
        # Grain keys first, then every other column, so that even duplicate grain rows (which
        # the marts' tests forbid) cannot make the order depend on DuckDB's parallelism.
        order = [*report.grain, *(c for c in columns if c not in report.grain)]
        sql = (
            f"select * from {_quote(mart)}"
            + (f" where {' and '.join(where)}" if where else "")
            + " order by "
            + ", ".join(f"{_quote(c)} asc nulls last" for c in order)
        )
        table, types = self.query(sql, params)

        published = self.publication.for_mart(mart)
        if applied is None and table.num_rows != published.row_count:
            raise ExportError(
                f"{mart} has {table.num_rows} rows but _publication records "
                f"{published.row_count}: the publication is inconsistent, re-run `petpro refresh`"
            )
        return ReportData(report, table, types, applied, (mart,))
