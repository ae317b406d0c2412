"""What was known at a snapshot date: the one place where the customer history is cut off.

Every model feature is computed from the ``hist_*`` temporary views that :func:`install_history`
creates on a DuckDB connection to a publication: the published customer-level marts filtered
to rows dated strictly before the snapshot (``signup_date``, ``activity_date`` and
``paid_date`` < snapshot, all in the business time zone). Feature builders read only those
views, and report, per customer, the latest source date they used (``_source_max_date``);
:func:`check_no_leakage` refuses any feature table whose latest source date is on or after the
snapshot, so a feature accidentally computed from the future fails loudly instead of
inflating the evaluation. Labels (what happened after the snapshot) are read by a separate,
explicitly named function of the model that needs them, never through these views.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from petpro.errors import PetProError

SOURCE_MAX_DATE = "_source_max_date"

# The dated sources of every feature, and the column that dates each row.
HISTORY_SOURCES: dict[str, tuple[str, str]] = {
    "hist_customers": ("mart_customer_profile", "signup_date"),
    "hist_activity_daily": ("mart_customer_activity_daily", "activity_date"),
    "hist_transactions": ("mart_customer_transactions", "paid_date"),
}


class LeakageError(PetProError):
    """A feature was computed from rows dated on or after the snapshot date."""


class NoHistoryError(PetProError):
    """The publication has no data for the requested snapshot."""


def install_history(con: duckdb.DuckDBPyConnection, snapshot: date) -> None:
    """(Re)create the ``hist_*`` views of ``con``: the marts' rows dated before ``snapshot``."""
    for view, (mart, column) in HISTORY_SOURCES.items():
        con.execute(
            f"create or replace temp view {view} as "
            f"select * from main.{mart} where {column} < DATE '{snapshot.isoformat()}'"
        )


def check_no_leakage(features: pa.Table, snapshot: date, *, builder: str) -> None:
    """Raise :class:`LeakageError` unless every source row behind ``features`` predates ``snapshot``."""
    if SOURCE_MAX_DATE not in features.column_names:
        raise LeakageError(
            f"feature builder {builder} does not report {SOURCE_MAX_DATE}: every builder must "
            "say which dates it read, so that the leakage guard can check them"
        )
    latest = pc.max(features[SOURCE_MAX_DATE]).as_py()
    if latest is not None and latest >= snapshot:
        raise LeakageError(
            f"feature builder {builder} read data dated {latest} for a snapshot on {snapshot}: "
            "features may only use rows dated before the snapshot (read the hist_* views)"
        )


def high_water_date(con: duckdb.DuckDBPyConnection) -> date:
    """The publication's high-water date (the last day of data, business time zone)."""
    row = con.execute("select max(as_of_date) from main.mart_customer_rfm").fetchone()
    if row is None or row[0] is None:
        row = con.execute(
            "select max(activity_date) from main.mart_customer_activity_daily"
        ).fetchone()
    if row is None or row[0] is None:
        raise NoHistoryError(
            "the publication holds no customer activity: seed or ingest data, then `petpro refresh`"
        )
    return row[0]
