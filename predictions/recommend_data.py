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
    cust = con.execute(
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
    ).fetchall()
    customers = Customers(
        ids=np.array([r[0] for r in cust], dtype=object),
        city=np.array([r[1] or "unknown" for r in cust], dtype=object),
        country=np.array([r[2] or "unknown" for r in cust], dtype=object),
        species=np.array([tuple(r[3] or ()) for r in cust] + [()], dtype=object)[:-1],
        active=np.array([bool(r[4]) for r in cust], dtype=bool),
    )
    hwm = next((r[5] for r in cust if r[5] is not None), None)
    book = con.execute(
        f"""
        select b.customer_id, b.service_id, b.booked_date, b.review_rating,
            b.booking_status in ('cancelled', 'no_show') as cancelled, b.pet_species
        from {BOOKINGS_MART} b
        order by b.booked_at, b.booking_id
        """
    ).fetchnumpy()
    c_index = {c: i for i, c in enumerate(customers.ids)}
    s_index = {s: i for i, s in enumerate(catalogue.ids)}
    b_customer = np.array([c_index.get(c, -1) for c in book["customer_id"]], dtype=np.int64)
    b_service = np.array([s_index.get(s, -1) for s in book["service_id"]], dtype=np.int64)
    days = np.asarray(book["booked_date"]).astype("datetime64[D]").astype(np.int64)
    raw_rating = book["review_rating"]
    rating = (
        np.ma.filled(raw_rating.astype(float), np.nan)
        if np.ma.isMaskedArray(raw_rating)
        else np.asarray(raw_rating, dtype=float)
    )
    bookings = Bookings(
        customer=b_customer,
        service=b_service,
        day=days,
        rating=rating,
        cancelled=np.asarray(book["cancelled"], dtype=bool),
        pet_species=np.asarray(book["pet_species"], dtype=object),
    ).take((b_customer >= 0) & (b_service >= 0))
    if hwm is None:
        hwm_day = int(days.max()) if days.size else day_number(date.today())
    else:
        hwm_day = day_number(hwm)
    return RecommendData(customers, catalogue, bookings, hwm_day)
