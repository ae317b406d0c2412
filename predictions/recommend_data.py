"""The recommender's inputs, read from a publication's marts and encoded as integer indexes.

Reads three marts of one DuckDB connection — the staged version during a publish or the
current publication for training, never ``build.duckdb``: ``mart_customer_service_bookings``
(every booking with its service, category, pet species and review rating),
``mart_service_catalogue`` (where each service is and whether it can be booked today) and the
customer marts (``mart_customer_profile`` for city and species,
``mart_customer_activity_summary`` for the last active day, ``mart_customer_activity_daily``
for account deactivations). Customers and services become row indexes so the model code works
on numpy arrays and sparse matrices only.

*Active customer* (who gets recommendations): active — any activity — in the 90 days ending at
the high-water date (the latest customer activity date), and not deactivated since (a
deactivation later than the last reactivation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from petpro.duckdb_cache import release_cached_pages
from petpro.errors import PetProError

if TYPE_CHECKING:
    import duckdb

ACTIVE_DAYS = 90
BOOKINGS_MART = "mart_customer_service_bookings"
CATALOGUE_MART = "mart_service_catalogue"
REQUIRED_MARTS = (
    BOOKINGS_MART,
    CATALOGUE_MART,
    "mart_customer_profile",
    "mart_customer_activity_summary",
    "mart_customer_activity_daily",
)
EPOCH = date(1970, 1, 1)


class RecommendDataError(PetProError):
    """The publication lacks what the recommender reads."""


@dataclass
class Catalogue:
    """Services as row indexes: ids, vendor, category, place and bookability."""

    ids: np.ndarray  # object str
    vendor_id: np.ndarray
    category: np.ndarray
    city: np.ndarray
    country: np.ndarray
    bookable: np.ndarray  # bool

    @property
    def size(self) -> int:
        return int(self.ids.size)


@dataclass
class Customers:
    """Customers as row indexes: id, city, country, pet species (tuple) and activity."""

    ids: np.ndarray
    city: np.ndarray
    country: np.ndarray
    species: np.ndarray  # object: tuple of species names
    active: np.ndarray  # bool, per the module docstring

    @property
    def size(self) -> int:
        return int(self.ids.size)


@dataclass
class Bookings:
    """Bookings as parallel arrays of indexes into :class:`Customers` and :class:`Catalogue`."""

    customer: np.ndarray
    service: np.ndarray
    day: np.ndarray  # booked date as days since 1970-01-01 (business time zone)
    rating: np.ndarray  # float, NaN when not reviewed
    cancelled: np.ndarray  # bool: cancelled or no-show
    pet_species: np.ndarray  # object

    @property
    def size(self) -> int:
        return int(self.customer.size)

    def take(self, mask: np.ndarray) -> Bookings:
        return Bookings(
            self.customer[mask], self.service[mask], self.day[mask], self.rating[mask],
            self.cancelled[mask], self.pet_species[mask],
        )  # fmt: skip


@dataclass
class RecommendData:
    """Everything the recommender reads from one publication."""

    customers: Customers
    catalogue: Catalogue
    bookings: Bookings
    high_water_day: int  # days since 1970-01-01

    @property
    def high_water_date(self) -> date:
        return date.fromordinal(EPOCH.toordinal() + self.high_water_day)


def day_number(value: date) -> int:
    return value.toordinal() - EPOCH.toordinal()


def _present(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()
    return {r[0] for r in rows}


def _objects(column: pa.Array | pa.ChunkedArray, *, repeated: bool = False) -> np.ndarray:
    """A string column as a numpy object array of ``str`` (``None`` for nulls).

    ``repeated``: few distinct values (cities, species), so one Python string per distinct
    value is made and shared, instead of one per row.
    """
    if not repeated:
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)
    encoded = pc.dictionary_encode(column).combine_chunks()
    names = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
    codes = encoded.indices.fill_null(names.size).to_numpy().astype(np.int64)
    return np.append(names, None)[codes]


def _species_tuples(column: pa.ChunkedArray) -> np.ndarray:
    """A list-of-species column as an object array of tuples, one shared tuple per combination.

    Customers own a few species combinations (``('cat',)``, ``('cat', 'dog')``, …), so each
    distinct one becomes one tuple, shared by every customer with it; a null or empty list
    is ``()``. A tuple of new strings per customer held 71 MiB more at 320,000 customers, for
    the whole scoring (docs/orchestration.md, "The scoring's memory")."""
    # \x1f (unit separator) joins the sorted species names (mart_customer_profile's
    # ``sorted_distinct_list``): no species name contains it.
    encoded = pc.dictionary_encode(pc.binary_join(column, "\x1f")).combine_chunks()
    names = encoded.dictionary.to_pylist()
    combos = np.empty(len(names) + 1, dtype=object)  # the last one: a null list
    for i, name in enumerate([*names, ""]):
        combos[i] = tuple(name.split("\x1f")) if name else ()
    return combos[encoded.indices.fill_null(len(names)).to_numpy().astype(np.int64)]


def _or_unknown(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Nulls and empty strings become ``unknown`` (no place is a place of its own)."""
    filled = column.fill_null("unknown")
    return pc.if_else(pc.equal(filled, ""), "unknown", filled)


def read_data(con: duckdb.DuckDBPyConnection) -> RecommendData:
    """Read and encode the recommender's marts from ``con`` (a publication's DuckDB)."""
    missing = [m for m in REQUIRED_MARTS if m not in _present(con)]
    if missing:
        raise RecommendDataError(
            f"the publication lacks {', '.join(missing)}: publish a warehouse built by this "
            "version with `petpro refresh` first"
        )
    cat = con.execute(
        f"select service_id, vendor_id, service_category, vendor_city, vendor_country, "
        f"is_bookable from {CATALOGUE_MART} order by service_id"
    ).fetchnumpy()
    catalogue = Catalogue(
        ids=np.asarray(cat["service_id"], dtype=object),
        vendor_id=np.asarray(cat["vendor_id"], dtype=object),
        category=np.asarray(cat["service_category"], dtype=object),
        city=np.asarray(cat["vendor_city"], dtype=object),
        country=np.asarray(cat["vendor_country"], dtype=object),
        bookable=np.asarray(cat["is_bookable"], dtype=bool),
    )
    cust = con.sql(
        f"""
        with account as (
            select
                customer_id,
                max(activity_date) filter (where activity_type = 'account_deactivated') as off,
                max(activity_date) filter (where activity_type = 'account_reactivated') as back
            from mart_customer_activity_daily
            where activity_type in ('account_deactivated', 'account_reactivated')
            group by customer_id
        ),
        hwm as (select max(last_activity_date) as day from mart_customer_activity_summary)
        select
            p.customer_id, p.city, p.country, p.pet_species,
            coalesce(s.last_activity_date > hwm.day - {ACTIVE_DAYS}, false)
                and not coalesce(a.off > coalesce(a.back, date '1900-01-01'), false) as active,
            hwm.day as hwm_day
        from mart_customer_profile p
        cross join hwm
        left join mart_customer_activity_summary s on s.customer_id = p.customer_id
        left join account a on a.customer_id = p.customer_id
        order by p.customer_id
        """
    ).to_arrow_table()
    # The account filter scans every page of the daily activity mart for a few thousand rows:
    # give those pages back before the arrays are built (petpro.duckdb_cache).
    release_cached_pages(con)
    # Columns stay Arrow until they are numpy arrays: a Python row per customer costs seconds
    # at 320,000 customers.
    customers = Customers(
        ids=_objects(cust["customer_id"]),
        city=_objects(_or_unknown(cust["city"]), repeated=True),
        country=_objects(_or_unknown(cust["country"]), repeated=True),
        species=_species_tuples(cust["pet_species"]),
        active=cust["active"].fill_null(False).to_numpy().astype(bool),
    )
    hwm_days = cust["hwm_day"].drop_null()
    hwm = hwm_days[0].as_py() if len(hwm_days) else None
    # Customers and services arrive as their row numbers (the orders of the two queries
    # above), so no id string crosses into Python and no hash look-up runs here: at 951,719
    # bookings the ids were 72 MB of Arrow and the look-ups 59 MB more
    # (docs/orchestration.md, "Cached pages released between steps"). The joins drop a
    # booking of a customer or service the marts do not know.
    book = con.sql(
        f"""
        with customer_rows as (
            select p.customer_id, row_number() over (order by p.customer_id) - 1 as row_index
            from mart_customer_profile p
        ),
        service_rows as (
            select c.service_id, row_number() over (order by c.service_id) - 1 as row_index
            from {CATALOGUE_MART} c
        )
        select cr.row_index as customer, sr.row_index as service, b.booked_date,
            b.review_rating, b.booking_status in ('cancelled', 'no_show') as cancelled,
            b.pet_species
        from {BOOKINGS_MART} b
        join customer_rows cr on cr.customer_id = b.customer_id
        join service_rows sr on sr.service_id = b.service_id
        order by b.booked_at, b.booking_id
        """
    ).to_arrow_table()
    days = pc.cast(book["booked_date"], pa.int32()).to_numpy().astype(np.int64)
    rating = pc.cast(book["review_rating"], pa.float64()).to_numpy()  # null -> NaN
    bookings = Bookings(
        customer=book["customer"].to_numpy().astype(np.int64),
        service=book["service"].to_numpy().astype(np.int64),
        day=days,
        rating=np.asarray(rating, dtype=float),
        cancelled=book["cancelled"].fill_null(False).to_numpy().astype(bool),
        pet_species=_objects(book["pet_species"], repeated=True),
    )
    del book
    if hwm is None:
        # No customer activity at all: the last booking day stands in for the high-water day.
        last = con.execute(f"select max(booked_date) from {BOOKINGS_MART}").fetchall()[0][0]
        hwm_day = day_number(last) if last is not None else day_number(date.today())
    else:
        hwm_day = day_number(hwm)
    release_cached_pages(con)
    return RecommendData(customers, catalogue, bookings, hwm_day)
