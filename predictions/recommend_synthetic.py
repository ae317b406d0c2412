"""The recommender's input at any scale without a database: for the cost benchmark.

Seeding PostgreSQL with 320,000 customers and building the marts takes far longer than the
recommender itself, so :func:`synthetic_data` produces :class:`RecommendData` straight from the
synthetic source's own building blocks: the same customers, vendors, services, pets and
sessions as ``sourcedb.seed`` (``make_users``, ``make_vendors``, ``make_pets``, ``sessions``),
the same booking-choice rules (:mod:`sourcedb.booking_choice`) and review ratings; it skips
the activity log, payments and the database. Statuses are drawn with the source's
cancellation and no-show rates; every customer counts as active.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from predictions.recommend_data import Bookings, Catalogue, Customers, RecommendData
from sourcedb import clock
from sourcedb.booking_choice import choose_seeded_services, ratings
from sourcedb.clock import DAY_US, MINUTE_US
from sourcedb.generate_activity import sessions
from sourcedb.generate_bookings import CANCEL_P, NO_SHOW_P, REVIEW_P
from sourcedb.generate_people import (
    CITY_COUNTRY,
    COUNTRIES,
    SEGMENT_BOOKING_P,
    make_pets,
    make_users,
    make_vendors,
)
from sourcedb.load import NULL_TS
from sourcedb.reference import CITIES


def synthetic_data(
    customers: int, *, days: int = 540, seed: int = 42, end_date: date = date(2025, 6, 30)
) -> RecommendData:
    """Customers, catalogue and bookings as the seed would generate them (module docstring)."""
    rng = np.random.default_rng(seed)
    tz = "UTC"
    start = end_date - timedelta(days=days - 1)
    history_start = clock.local_day_start_utc(start, tz)
    asof = clock.local_day_start_utc(end_date + timedelta(days=1), tz) - 1
    users = make_users(
        rng, customers=customers, start_day=clock.day_number(start), days=days, tz=tz,
        asof_us=asof, staff=False,
    )  # fmt: skip
    vendors, services = make_vendors(
        rng, customers=customers, history_start_us=history_start, asof_us=asof
    )
    pets = make_pets(rng, users, asof)
    n = users.n_customers
    cust = np.arange(n)
    second = users.life2_start[:n] != NULL_TS
    owners = np.concatenate([cust, cust[second]])
    s_start = np.concatenate([users.created_us[:n], users.life2_start[:n][second]])
    s_end = np.concatenate([users.life1_end[:n], users.life2_end[:n][second]])
    s_rate = np.concatenate([users.rate[:n], users.rate[:n][second] * 0.8])
    c_owner, c_ts = sessions(rng, owners, s_start, s_end, s_rate, tz)
    b_mask = rng.random(c_owner.size) < SEGMENT_BOOKING_P[users.segment[c_owner]]
    first_book = rng.random(n) < 0.4
    b_user = np.concatenate([c_owner[b_mask], cust[first_book]])
    b_created = np.concatenate([c_ts[b_mask], users.created_us[:n][first_book] + 30 * MINUTE_US])
    ok = b_created <= asof
    b_user, b_created = b_user[ok], b_created[ok]
    order = np.argsort(b_created, kind="stable")
    b_user, b_created = b_user[order], b_created[order]
    svc, aff = choose_seeded_services(rng, users, vendors, services, pets, b_user, b_created)

    m = b_user.size
    cancelled = rng.random(m) < CANCEL_P + NO_SHOW_P
    reviewed = ~cancelled & (rng.random(m) < REVIEW_P)
    rating = np.full(m, np.nan)
    rating[reviewed] = ratings(rng, aff[reviewed])
    first = pets.first_of_owner
    bookings = Bookings(
        customer=b_user,
        service=svc,
        day=b_created // DAY_US,
        rating=rating,
        cancelled=cancelled,
        pet_species=pets.species[first][b_user],
    )
    owned: list[set[str]] = [set() for _ in range(n)]
    for owner, species in zip(pets.owner, pets.species, strict=True):
        owned[owner].add(str(species))
    species_of = np.empty(n, dtype=object)
    species_of[:] = [tuple(sorted(s)) for s in owned]
    city_names = np.array([c[0] for c in CITIES], dtype=object)
    vendor_status = np.asarray(vendors.columns["status"])
    catalogue = Catalogue(
        ids=services.ids.astype(object),
        vendor_id=vendors.ids[services.vendor].astype(object),
        category=np.asarray(services.columns["category"], dtype=object),
        city=np.asarray(vendors.columns["city"], dtype=object)[services.vendor],  # type: ignore[call-overload]
        country=np.array(COUNTRIES, dtype=object)[services.country],
        bookable=np.asarray(services.columns["is_active"], dtype=bool)
        & (vendor_status[services.vendor] == "active"),
    )
    people = Customers(
        ids=users.ids[:n].astype(object),
        city=city_names[users.city[:n]],
        country=np.array(COUNTRIES, dtype=object)[CITY_COUNTRY[users.city[:n]]],
        species=species_of,
        active=np.ones(n, dtype=bool),
    )
    return RecommendData(people, catalogue, bookings, int(asof // DAY_US))
