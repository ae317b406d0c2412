"""Creation of the PetPro operational schema on a PostgreSQL database.

The DDL lives in ``schema.sql`` beside this module and is idempotent (``if not exists``,
guarded enum creation, triggers re-created), so ``create_schema`` can run on every start.
``SOURCE_TABLES`` lists the tables in dependency order (parents first), which is the order
bulk loads and truncations use.
"""

from __future__ import annotations

from importlib import resources

import psycopg

SOURCE_TABLES: tuple[str, ...] = (
    "users",
    "user_addresses",
    "pets",
    "vendors",
    "services",
    "bookings",
    "payments",
    "reviews",
    "activities",
)


def schema_sql() -> str:
    return resources.files("sourcedb").joinpath("schema.sql").read_text()


def create_schema(conn: psycopg.Connection) -> None:
    """Create (or re-assert) every type, table, index and trigger. Idempotent."""
    with conn.transaction():
        # Serialise concurrent creators (two CLI commands starting at once).
        conn.execute("select pg_advisory_xact_lock(727274)")
        conn.execute(schema_sql())


def truncate_all(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute("truncate " + ", ".join(SOURCE_TABLES) + " cascade")
