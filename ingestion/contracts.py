"""Versioned extraction contracts: exactly which source columns reach the lake, and as what.

One ``TableContract`` per source table declares the columns extracted with their Arrow
types, the primary key, the cursor column used for incremental extraction and the
partitioning. Nothing outside a contract is ever read from the source, which is how names,
emails, phones, password hashes, streets and postal codes stay out of the lake. Derived
columns (``ip_hash``, ``ip_network`` and the user-agent families of ``activities``) are
declared separately because they are computed during extraction from source columns that
are read but never written.

Choices: ``uuid`` travels as its canonical 36-character string (readable in every tool,
joins without casts in DuckDB); enums as strings (dictionary-encoded in Parquet);
``numeric(p,s)`` as ``decimal128(p,s)``; ``jsonb`` as a JSON string; ``timestamptz`` as
``timestamp[us, tz=UTC]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from petpro.errors import PetProError
from petpro.vocabulary import ACTIVITY_TYPES

CONTRACT_VERSION = 1

TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    arrow_type: pa.DataType
    # The PostgreSQL type as information_schema reports it (data_type, or udt_name for
    # enums/user-defined types); used for drift detection.
    pg_type: str
    nullable: bool = True


@dataclass(frozen=True)
class TableContract:
    table: str
    columns: tuple[Column, ...]
    primary_key: str = "id"
    cursor: str = "updated_at"
    # 'snapshot' tables are merged by key into one current file; 'daily' tables are
    # hive-partitioned by event date in the business time zone.
    partitioning: str = "snapshot"
    partition_source: str | None = None
    # Columns that must not be NULL for a row to be accepted (else it is quarantined).
    required: tuple[str, ...] = ("id",)
    # Source columns read only to derive lake columns; never written to the lake.
    transient: tuple[Column, ...] = ()
    derived: tuple[Column, ...] = field(default_factory=tuple)
    # Source columns deliberately never read (personal data): not reported as new columns.
    excluded: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def source_columns(self) -> tuple[Column, ...]:
        return self.columns + self.transient

    def lake_schema(self) -> pa.Schema:
        """The Arrow schema of the lake files (contract columns + derived columns)."""
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns + self.derived])


def _c(name: str, arrow_type: pa.DataType, pg_type: str, nullable: bool = True) -> Column:
    return Column(name, arrow_type, pg_type, nullable)


CONTRACTS: dict[str, TableContract] = {
    c.table: c
    for c in (
        TableContract(
            table="users",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("role", pa.string(), "user_role", False),
                _c("is_email_verified", pa.bool_(), "boolean"),
                _c("active", pa.bool_(), "boolean"),
                _c("date_of_birth", pa.date32(), "date"),
                _c("gender", pa.string(), "gender"),
                _c("preferred_language", pa.string(), "character varying"),
                _c("last_login", TS, "timestamp with time zone"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
                _c("deleted_at", TS, "timestamp with time zone"),
            ),
            required=("id", "role", "created_at"),
            excluded=("first_name", "last_name", "email", "password_hash", "phone"),
        ),
        TableContract(
            table="user_addresses",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid", False),
                _c("city", pa.string(), "character varying"),
                _c("state", pa.string(), "character varying"),
                _c("country", pa.string(), "character varying"),
                _c("is_default", pa.bool_(), "boolean"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
            required=("id", "user_id"),
            excluded=("street", "postal_code"),
        ),
        TableContract(
            table="pets",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("owner_id", pa.string(), "uuid", False),
                _c("species", pa.string(), "pet_species", False),
                _c("breed", pa.string(), "character varying"),
                _c("birth_date", pa.date32(), "date"),
                _c("gender", pa.string(), "pet_gender"),
                _c("weight_kg", pa.decimal128(5, 2), "numeric"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
                _c("deleted_at", TS, "timestamp with time zone"),
            ),
            required=("id", "owner_id"),
            excluded=("name",),
        ),
        TableContract(
            table="vendors",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid", False),
                _c("business_name", pa.string(), "character varying"),
                _c("city", pa.string(), "character varying"),
                _c("state", pa.string(), "character varying"),
                _c("country", pa.string(), "character varying"),
                _c("status", pa.string(), "vendor_status"),
                _c("average_rating", pa.decimal128(3, 2), "numeric"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
        ),
        TableContract(
            table="services",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("vendor_id", pa.string(), "uuid", False),
                _c("name", pa.string(), "character varying"),
                _c("category", pa.string(), "service_category", False),
                _c("price", pa.decimal128(10, 2), "numeric"),
                _c("currency", pa.string(), "character"),
                _c("duration_minutes", pa.int32(), "integer"),
                _c("is_active", pa.bool_(), "boolean"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
        ),
        TableContract(
            table="bookings",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid", False),
                _c("service_id", pa.string(), "uuid", False),
                _c("pet_id", pa.string(), "uuid"),
                _c("start_time", TS, "timestamp with time zone"),
                _c("end_time", TS, "timestamp with time zone"),
                _c("status", pa.string(), "booking_status", False),
                _c("amount", pa.decimal128(10, 2), "numeric"),
                _c("currency", pa.string(), "character"),
                _c("cancellation_reason", pa.string(), "text"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
            required=("id", "user_id", "created_at"),
        ),
        TableContract(
            table="payments",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("booking_id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid", False),
                _c("amount", pa.decimal128(10, 2), "numeric"),
                _c("currency", pa.string(), "character"),
                _c("status", pa.string(), "payment_status", False),
                _c("method", pa.string(), "payment_method"),
                _c("paid_at", TS, "timestamp with time zone"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
            required=("id", "user_id", "created_at"),
        ),
        TableContract(
            table="reviews",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid", False),
                _c("booking_id", pa.string(), "uuid"),
                _c("service_id", pa.string(), "uuid"),
                _c("vendor_id", pa.string(), "uuid"),
                _c("rating", pa.int16(), "smallint"),
                _c("status", pa.string(), "review_status"),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
            required=("id", "user_id"),
        ),
        TableContract(
            table="activities",
            columns=(
                _c("id", pa.string(), "uuid", False),
                _c("user_id", pa.string(), "uuid"),
                _c("type", pa.string(), "activity_type", False),
                _c("description", pa.string(), "character varying"),
                _c("metadata", pa.string(), "jsonb"),
                _c("timestamp", TS, "timestamp with time zone", False),
                _c("created_at", TS, "timestamp with time zone", False),
                _c("updated_at", TS, "timestamp with time zone", False),
            ),
            partitioning="daily",
            partition_source="timestamp",
            required=("id", "user_id", "type", "timestamp"),
            transient=(
                _c("ip_address", pa.string(), "character varying"),
                _c("user_agent", pa.string(), "text"),
            ),
            derived=(
                _c("ip_hash", pa.string(), "-"),
                _c("ip_network", pa.string(), "-"),
                _c("device_type", pa.string(), "-"),
                _c("os_family", pa.string(), "-"),
                _c("browser_family", pa.string(), "-"),
            ),
        ),
    )
}


# Accepted values of every enum the contracts read (mirrors sourcedb/schema.sql). The quality
# suites check extracted values against these lists: a value added to the source enum later
# is still extracted (enums travel as strings) but flagged as a warning until the contract
# and the models downstream learn about it.
ENUM_VALUES: dict[str, tuple[str, ...]] = {
    "user_role": ("admin", "vendor", "customer", "system"),
    "gender": ("male", "female", "other"),
    "pet_species": ("dog", "cat", "bird", "fish", "reptile", "small_mammal", "other"),
    "pet_gender": ("male", "female", "unknown"),
    "vendor_status": ("pending", "pending_approval", "active", "inactive", "suspended"),
    "service_category": (
        "grooming",
        "veterinary",
        "boarding",
        "daycare",
        "training",
        "walking",
        "other",
    ),
    "booking_status": ("pending", "confirmed", "in_progress", "completed", "cancelled", "no_show"),
    "payment_status": ("pending", "authorized", "paid", "failed", "refunded"),
    "payment_method": ("credit_card", "bank_account", "paypal"),
    "review_status": ("pending", "published", "hidden"),
    "activity_type": ACTIVITY_TYPES,
}

# PostgreSQL types information_schema reports by name (data_type); anything else in a
# contract's pg_type is a user-defined type (an enum) compared through udt_name.
BUILTIN_PG_TYPES: frozenset[str] = frozenset(
    {
        "uuid",
        "boolean",
        "date",
        "text",
        "character",
        "character varying",
        "numeric",
        "smallint",
        "integer",
        "bigint",
        "jsonb",
        "json",
        "double precision",
        "real",
        "timestamp with time zone",
        "timestamp without time zone",
    }
)

# Columns with few distinct values: Parquet dictionary-encodes these (and only these; a
# dictionary over unique keys would just be discarded by the writer after wasting time).
LOW_CARDINALITY: frozenset[str] = frozenset(
    {
        "role",
        "gender",
        "preferred_language",
        "city",
        "state",
        "country",
        "species",
        "breed",
        "status",
        "category",
        "currency",
        "method",
        "type",
        "description",
        "metadata",
        "cancellation_reason",
        "user_id",
        "ip_hash",
        "ip_network",
        "device_type",
        "os_family",
        "browser_family",
    }
)


class ContractDriftError(PetProError):
    """The live source no longer matches a table's extraction contract."""

    def __init__(self, table: str, column: str, expected: str, found: str) -> None:
        self.table, self.column, self.expected, self.found = table, column, expected, found
        what = "is missing" if found == "missing" else f"has type {found!r}"
        super().__init__(
            f"contract drift in source table {table!r}: column {column!r} {what} but the "
            f"contract (v{CONTRACT_VERSION}) expects {expected!r}; nothing was extracted for "
            f"{table}. Restore the column or update ingestion/contracts.py (and the models "
            f"reading it)"
        )


def is_enum(column: Column) -> bool:
    return column.pg_type not in BUILTIN_PG_TYPES


def enum_columns(contract: TableContract) -> dict[str, tuple[str, ...]]:
    """Contract columns backed by a PostgreSQL enum, with their accepted values."""
    return {c.name: ENUM_VALUES[c.pg_type] for c in contract.columns if c.pg_type in ENUM_VALUES}


def live_types(rows: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """Map column -> type as contracts spell it, from information_schema rows
    ``(column_name, data_type, udt_name)``: enums and other user-defined types by udt_name."""
    return {
        name: (udt if data_type in ("USER-DEFINED", "ARRAY") else data_type)
        for name, data_type, udt in rows
    }


def check_contract(contract: TableContract, live: dict[str, str]) -> list[str]:
    """Compare a contract with the live columns of its table.

    Raises ``ContractDriftError`` for the first contract column (extracted or transient)
    that is missing or has another type; returns the names of source columns the contract
    does not know (reported as warnings, never read).
    """
    if not live:
        raise ContractDriftError(contract.table, "*", "table present", "missing")
    for column in contract.source_columns:
        found = live.get(column.name)
        if found is None:
            raise ContractDriftError(contract.table, column.name, column.pg_type, "missing")
        if found != column.pg_type:
            raise ContractDriftError(contract.table, column.name, column.pg_type, found)
    known = {c.name for c in contract.source_columns} | set(contract.excluded)
    return sorted(name for name in live if name not in known)


def describe(contract: TableContract) -> dict[str, Any]:
    """A JSON-able summary of a contract (stored in run records)."""
    return {
        "version": CONTRACT_VERSION,
        "columns": {c.name: str(c.arrow_type) for c in contract.columns + contract.derived},
        "primary_key": contract.primary_key,
        "partitioning": contract.partitioning,
    }
