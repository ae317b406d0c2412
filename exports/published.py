"""Read-only access to the published warehouse for the exports: one consistent publication.

Exports read the current publication through :mod:`petpro.publication` (never the build
database): ``current`` is resolved once and that version's DuckDB file is opened read-only, so
every report of one export comes from one publication even when a new one is switched in
meanwhile, and an export can run while dbt rebuilds. Rows come back in a deterministic order
(grain keys first, then every other column) so that re-exporting the same publication gives
byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa

from exports.errors import ExportError
from exports.reports import Report
from petpro.publication import (
    OpenPublication,
    PublicationRecord,
    open_current_publication,
    quote_ident,
)
from petpro.settings import Settings
from petpro.vocabulary import CUSTOMER_LEVEL_MARTS, PII_COLUMNS

# Columns that identify a person: never written to a report file, whatever a mart holds.
FORBIDDEN_COLUMNS: frozenset[str] = PII_COLUMNS | {"customer_id", "user_id"}


@dataclass(frozen=True)
class ReportData:
    """The rows of one report, their SQL types, and the date filter applied (if any)."""

    report: Report
    table: pa.Table
    sql_types: list[str]
    filter: dict[str, str | None] | None
    sources: tuple[str, ...]


def published_row_count(record: PublicationRecord, mart: str) -> int:
    """The row count the publication records for ``mart`` (a clear error when it lists none)."""
    count = record.row_counts.get(mart)
    if count is None:
        raise ExportError(
            f"{mart} is not listed in the publication record of {record.version}: the "
            "publication is incomplete, run `petpro refresh` to publish again"
        )
    return count


class PublishedWarehouse:
    """The current publication, open read-only for one export (use as a context manager)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._opened: OpenPublication | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def __enter__(self) -> PublishedWarehouse:
        self._opened = open_current_publication(self.settings.published_dir)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    @property
    def _open(self) -> OpenPublication:
        if self._opened is None:
            raise RuntimeError("PublishedWarehouse used outside its `with` block")
        return self._opened

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._open.con

    @property
    def publication(self) -> PublicationRecord:
        """The record of the publication this export reads."""
        return self._open.record

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
            col = quote_ident(report.period_column)
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
            f"select * from {quote_ident(mart)}"
            + (f" where {' and '.join(where)}" if where else "")
            + " order by "
            + ", ".join(f"{quote_ident(c)} asc nulls last" for c in order)
        )
        table, types = self.query(sql, params)

        recorded = published_row_count(self.publication, mart)
        if applied is None and table.num_rows != recorded:
            raise ExportError(
                f"{mart} has {table.num_rows} rows but _publication records "
                f"{recorded}: the publication is inconsistent, re-run `petpro refresh`"
            )
        return ReportData(report, table, types, applied, (mart,))
