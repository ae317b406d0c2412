"""Synthetic people and their things: users (customers, admins, vendor users, a system user),
addresses, pets, vendors and the service catalogue.

Customers sign up on a growing curve with weekly seasonality and carry hidden behaviour
parameters — an engagement segment, a session rate, an active life that ends in churn and, for
some, a second life after months of dormancy — which the activity and booking generators use.
Everything is drawn from the caller's seeded generator, vectorised with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sourcedb import clock
from sourcedb.clock import DAY_US, HOUR_US, MINUTE_US
from sourcedb.identifiers import ip_addresses, uuids
from sourcedb.load import NULL_TS
from sourcedb.reference import (
    BREEDS,
    CATEGORY_WEIGHTS,
    CITIES,
    CURRENCY_PRICE_FACTOR,
    FIRST_NAMES,
    LANGUAGES,
    LAST_NAMES,
    PET_NAMES,
    SERVICE_CATALOGUE,
    SIGNUP_WEEKDAY_WEIGHTS,
    SPECIES,
    STREETS,
    USER_AGENTS,
    VENDOR_WORDS,
    WEIGHT_KG,
)

CATEGORIES = tuple(SERVICE_CATALOGUE)
SPECIES_NAMES = tuple(s for s, _ in SPECIES)
COUNTRIES = tuple(dict.fromkeys(c[2] for c in CITIES))
CITY_COUNTRY = np.array([COUNTRIES.index(c[2]) for c in CITIES])
CITY_P = np.array([c[4] for c in CITIES]) / sum(c[4] for c in CITIES)
COUNTRY_CURRENCY = {c[2]: c[3] for c in CITIES}
UA_STRINGS = np.array([u[1] for u in USER_AGENTS], dtype=object)
UA_P = np.array([u[2] for u in USER_AGENTS]) / sum(u[2] for u in USER_AGENTS)

# Engagement segments: share, sessions per active day, mean active life (days),
# probability that a session leads to a booking.
SEGMENTS = ("power", "regular", "casual", "one_off")
SEGMENT_SHARE = np.array([0.08, 0.27, 0.40, 0.25])
SEGMENT_RATE = np.array([0.75, 0.3, 0.11, 0.07])
SEGMENT_LIFE = np.array([420.0, 220.0, 80.0, 12.0])
SEGMENT_BOOKING_P = np.array([0.16, 0.13, 0.11, 0.12])
RESURRECT_P = 0.18


@dataclass
class Users:
    """All users (customers first) with table columns and hidden behaviour arrays."""

    columns: dict[str, object]
    n_customers: int
    ids: np.ndarray
    created_us: np.ndarray
    role: np.ndarray
    city: np.ndarray  # city index into CITIES
    segment: np.ndarray
    rate: np.ndarray  # sessions per day while alive
    life1_end: np.ndarray  # end of first active life (UTC µs, capped at as-of)
    life2_start: np.ndarray  # start of the second life (NULL_TS when none)
    life2_end: np.ndarray
    deactivated: np.ndarray  # bool: deactivated their account when churning
    ua: np.ndarray  # (n, 2) user-agent indexes of the user's two devices
    ip: np.ndarray  # (n, 2) object IP strings of the two devices
    extra: dict[str, np.ndarray] = field(default_factory=dict)


def _signup_days(rng: np.random.Generator, n: int, start_day: int, days: int) -> np.ndarray:
    """Local day numbers of ``n`` signups: exponential growth, weekly pattern, daily noise."""
    t = np.arange(days) / max(days - 1, 1)
    weights = np.exp(np.log(5.0) * t)  # ~5x more signups per day at the end than at the start
    weekday = np.asarray(SIGNUP_WEEKDAY_WEIGHTS)[clock.weekday_of(start_day + np.arange(days))]
    weights = weights * weekday * rng.gamma(25.0, 1 / 25.0, size=days)
    return start_day + rng.choice(days, size=n, p=weights / weights.sum())


def _names(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    first = rng.choice(np.array(FIRST_NAMES, dtype=object), size=n)
    last = rng.choice(np.array(LAST_NAMES, dtype=object), size=n)
    return first, last


def _ascii(values: np.ndarray) -> np.ndarray:
    table = str.maketrans("üéíóáñ ", "ueioan-")
    return np.array([v.lower().translate(table) for v in values], dtype=object)


def _emails(first: np.ndarray, last: np.ndarray, ids: np.ndarray, domain: str) -> np.ndarray:
    tag = np.array([u[:8] + u[9:13] for u in ids], dtype=object)
    return _ascii(first) + "." + _ascii(last) + "." + tag + "@" + domain


def _devices(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    ua = rng.choice(len(UA_STRINGS), size=(n, 2), p=UA_P)
    ip = ip_addresses(rng, 2 * n).reshape(n, 2)
    return ua, ip


def make_users(
    rng: np.random.Generator,
    *,
    customers: int,
    start_day: int,
    days: int,
    tz: str,
    asof_us: int,
    staff: bool = True,
) -> Users:
    """Customers over the history, plus (``staff``) admins and one system user."""
    n = customers
    day = _signup_days(rng, n, start_day, days)
    local = day * DAY_US + clock.sample_time_of_day(rng, n)
    created = np.minimum(clock.local_to_utc(local, tz), asof_us - MINUTE_US)
    created.sort()  # customers in signup order: ids then follow time, like a real table

    segment = rng.choice(len(SEGMENTS), size=n, p=SEGMENT_SHARE)
    rate = SEGMENT_RATE[segment] * rng.lognormal(0.0, 0.35, size=n)
    life = rng.exponential(SEGMENT_LIFE[segment]) * DAY_US
    life1_end = created + life.astype(np.int64) + HOUR_US
    churned = life1_end < asof_us
    resurrect = churned & (rng.random(n) < RESURRECT_P)
    life2_start = np.where(resurrect, life1_end + rng.integers(35, 160, size=n) * DAY_US, NULL_TS)
    resurrect &= life2_start < asof_us
    life2_start = np.where(resurrect, life2_start, NULL_TS)
    life2_end = np.where(
        resurrect,
        np.minimum(
            life2_start + (rng.exponential(70.0, size=n) * DAY_US).astype(np.int64), asof_us
        ),
        NULL_TS,
    )
    life1_end = np.minimum(life1_end, asof_us)
    deactivated = churned & (rng.random(n) < 0.3)

    city = rng.choice(len(CITIES), size=n, p=CITY_P)

    # Staff: admins and one system user exist before the history starts.
    n_admin = max(2, n // 4000) if staff else 0
    n_sys = 1 if staff else 0
    n_staff = n_admin + n_sys
    history_start = clock.local_to_utc(np.array([start_day * DAY_US]), tz)[0]
    staff_created = (
        history_start
        - rng.integers(30, 400, size=n_staff) * DAY_US
        + clock.sample_time_of_day(rng, n_staff)
    )
    roles = np.array(["customer"] * n + ["admin"] * n_admin + ["system"] * n_sys, dtype=object)
    created_all = np.concatenate([created, staff_created])
    m = created_all.size
    ids = uuids(rng, m)
    first, last = _names(rng, m)
    if staff:
        first[-1], last[-1] = "PetPro", "System"
    domain = np.where(roles == "customer", "example.com", "petpro.example")
    emails = _emails(first, last, ids, "x")
    emails = np.array([e[:-1] + d for e, d in zip(emails, domain, strict=True)], dtype=object)

    city_all = np.concatenate([city, rng.choice(len(CITIES), size=n_staff, p=CITY_P)])
    country_names = np.array([CITIES[c][2] for c in city_all], dtype=object)
    language = np.array(
        [LANGUAGES[c][k % len(LANGUAGES[c])] for c, k in
         zip(country_names, rng.integers(0, 12, size=m), strict=True)],
        dtype=object,
    )  # fmt: skip
    age_days = np.clip(rng.normal(38.0, 12.0, size=m), 18.5, 82.0) * 365.25
    dob = (
        np.datetime64("1970-01-01") + (created_all // DAY_US - age_days).astype(np.int64)
    ).astype("datetime64[D]")
    dob_null = rng.random(m) < 0.14
    gender = rng.choice(np.array(["female", "male", "other"], dtype=object), size=m,
                        p=[0.53, 0.44, 0.03])  # fmt: skip
    gender[rng.random(m) < 0.09] = None
    phone = np.array([f"+1555{x:07d}" for x in rng.integers(0, 10**7, size=m)], dtype=object)
    phone[rng.random(m) < 0.3] = None
    verified = rng.random(m) < 0.86
    verified[n:] = True
    password = np.array(
        ["$2b$12$" + u.replace("-", "")[:22] + "synthetichashvalue0000000" for u in ids],
        dtype=object,
    )
    ua, ip = _devices(rng, m)

    pad = np.full(n_staff, NULL_TS)
    columns: dict[str, object] = {
        "id": ids,
        "first_name": first,
        "last_name": last,
        "email": emails,
        "password_hash": password,
        "phone": phone,
        "role": roles,
        "is_email_verified": verified,
        "active": np.ones(m, dtype=bool),
        "date_of_birth": (dob, dob_null),
        "gender": gender,
        "preferred_language": language,
    }
    return Users(
        columns=columns,
        n_customers=n,
        ids=ids,
        created_us=created_all,
        role=roles,
        city=city_all,
        segment=np.concatenate([segment, np.full(n_staff, -1)]),
        rate=np.concatenate([rate, np.full(n_admin, 0.7), np.zeros(n_sys)]),
        life1_end=np.concatenate([life1_end, np.full(n_staff, asof_us)]),
        life2_start=np.concatenate([life2_start, pad]),
        life2_end=np.concatenate([life2_end, pad]),
        deactivated=np.concatenate([deactivated, np.zeros(n_staff, dtype=bool)]),
        ua=ua,
        ip=ip,
    )


@dataclass
class Vendors:
    columns: dict[str, object]
    user_columns: dict[str, object]  # the vendor users (role 'vendor')
    ids: np.ndarray
    user_ids: np.ndarray
    user_created_us: np.ndarray
    ua: np.ndarray
    ip: np.ndarray
    country: np.ndarray  # country index per vendor


@dataclass
class Services:
    columns: dict[str, object]
    ids: np.ndarray
    vendor: np.ndarray  # vendor index
    category: np.ndarray  # category index
    country: np.ndarray
    price_cents: np.ndarray
    currency: np.ndarray
    duration_min: np.ndarray
    # (country, category) → indexes of services offering it
    by_market: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


def make_vendors(
    rng: np.random.Generator, *, customers: int, history_start_us: int, asof_us: int
) -> tuple[Vendors, Services]:
    """Vendors in every city (each with a user) and services covering every category per country."""
    n = max(len(CITIES) * 2, customers // 80)
    city = np.concatenate(
        [np.arange(len(CITIES)), rng.choice(len(CITIES), size=n - len(CITIES), p=CITY_P)]
    )
    country = CITY_COUNTRY[city]
    span = max(asof_us - history_start_us, DAY_US)
    # Most vendors predate the history; the rest join during it (the marketplace grows).
    created = np.where(
        rng.random(n) < 0.6,
        history_start_us - rng.integers(1, 500, size=n) * DAY_US,
        history_start_us + (rng.random(n) * 0.8 * span).astype(np.int64),
    )
    created = np.minimum(created, asof_us - DAY_US)
    user_ids = uuids(rng, n)
    ids = uuids(rng, n)
    first, last = _names(rng, n)
    emails = _emails(first, last, user_ids, "vendors.example")
    word = rng.choice(np.array(VENDOR_WORDS, dtype=object), size=n)
    business = np.array(
        [f"{w} {CITIES[c][0]}" + (f" {k}" if k > 1 else "")
         for w, c, k in zip(word, city, rng.integers(1, 4, size=n), strict=True)],
        dtype=object,
    )  # fmt: skip
    status = rng.choice(
        np.array(["active", "inactive", "suspended", "pending_approval", "pending"], dtype=object),
        size=n,
        p=[0.86, 0.05, 0.02, 0.04, 0.03],
    )
    status[: len(CITIES)] = "active"
    status_changed = created + np.where(status == "active", 2 * DAY_US, 0)
    ua, ip = _devices(rng, n)
    user_columns = {
        "id": user_ids,
        "first_name": first,
        "last_name": last,
        "email": emails,
        "password_hash": np.full(n, "$2b$12$syntheticvendorhashvalue000000000000000000000", object),
        "phone": np.array([f"+1555{x:07d}" for x in rng.integers(0, 10**7, size=n)], dtype=object),
        "role": np.full(n, "vendor", dtype=object),
        "is_email_verified": np.ones(n, dtype=bool),
        "active": status != "suspended",
        "date_of_birth": (
            np.full(n, np.datetime64("1980-01-01"), "datetime64[D]"),
            np.ones(n, bool),
        ),
        "gender": np.full(n, None, dtype=object),
        "preferred_language": np.full(n, "en", dtype=object),
    }
    columns = {
        "id": ids,
        "user_id": user_ids,
        "business_name": business,
        "city": np.array([CITIES[c][0] for c in city], dtype=object),
        "state": np.array([CITIES[c][1] for c in city], dtype=object),
        "country": np.array([CITIES[c][2] for c in city], dtype=object),
        "status": status,
        "created_at": created,
        "updated_at": np.minimum(status_changed, asof_us),
    }
    vendors = Vendors(columns, user_columns, ids, user_ids, created - HOUR_US, ua, ip, country)

    # Services: 2-5 per vendor, the first in the vendor's main category.
    per_vendor = rng.integers(2, 6, size=n)
    cat_p = np.array([CATEGORY_WEIGHTS[c] for c in CATEGORIES])
    s_vendor = np.repeat(np.arange(n), per_vendor)
    s_cat = rng.choice(len(CATEGORIES), size=s_vendor.size, p=cat_p)
    # Guarantee every category in every country: add one service per missing pair.
    extra_v, extra_c = [], []
    for ci in range(len(COUNTRIES)):
        in_country = np.flatnonzero(country[s_vendor] == ci)
        present = set(s_cat[in_country].tolist())
        vendors_here = np.flatnonzero(country == ci)
        for k in range(len(CATEGORIES)):
            if k not in present:
                extra_v.append(int(rng.choice(vendors_here)))
                extra_c.append(k)
    s_vendor = np.concatenate([s_vendor, np.array(extra_v, dtype=np.int64)])
    s_cat = np.concatenate([s_cat, np.array(extra_c, dtype=np.int64)])
    m = s_vendor.size
    s_country = country[s_vendor]
    currency = np.array([COUNTRY_CURRENCY[COUNTRIES[c]] for c in s_country], dtype=object)
    factor = np.array([CURRENCY_PRICE_FACTOR[c] for c in currency])
    base = np.array([SERVICE_CATALOGUE[CATEGORIES[k]][1] for k in s_cat])
    price = base * factor * rng.lognormal(0.0, 0.25, size=m)
    price_cents = (np.round(price) * 100 - np.where(rng.random(m) < 0.5, 1, 0)).astype(np.int64)
    price_cents = np.maximum(price_cents, 499)
    duration = np.array([SERVICE_CATALOGUE[CATEGORIES[k]][2] for k in s_cat])
    names = np.array(
        [SERVICE_CATALOGUE[CATEGORIES[k]][0][j % len(SERVICE_CATALOGUE[CATEGORIES[k]][0])]
         for k, j in zip(s_cat, rng.integers(0, 12, size=m), strict=True)],
        dtype=object,
    )  # fmt: skip
    s_created = created[s_vendor] + rng.integers(1, 72, size=m) * HOUR_US
    s_created = np.minimum(s_created, asof_us - HOUR_US)
    s_ids = uuids(rng, m)
    s_columns = {
        "id": s_ids,
        "vendor_id": ids[s_vendor],
        "name": names,
        "category": np.array([CATEGORIES[k] for k in s_cat], dtype=object),
        "price": price_cents,
        "currency": currency,
        "duration_minutes": duration.astype(np.int64),
        "is_active": rng.random(m) < 0.95,
        "created_at": s_created,
        "updated_at": s_created,
    }
    services = Services(
        s_columns, s_ids, s_vendor, s_cat, s_country, price_cents, currency, duration
    )
    bookable = np.isin(status[s_vendor], ["active", "inactive"])
    for ci in range(len(COUNTRIES)):
        for k in range(len(CATEGORIES)):
            idx = np.flatnonzero((s_country == ci) & (s_cat == k) & bookable)
            if idx.size == 0:
                idx = np.flatnonzero((s_country == ci) & (s_cat == k))
            services.by_market[(ci, k)] = idx
    return vendors, services


def make_addresses(
    rng: np.random.Generator, users: Users, second_at: np.ndarray, second_removed: np.ndarray
) -> dict[str, object]:
    """One default address per customer (at signup) and a second one for some (added later).

    ``second_at`` holds the time of the second address (NULL_TS when none); removed second
    addresses are not rows any more (the application deletes them).
    """
    n = users.n_customers
    has_second = (second_at != NULL_TS) & ~second_removed
    owner = np.concatenate([np.arange(n), np.flatnonzero(has_second)])
    created = np.concatenate([users.created_us[:n], second_at[has_second]])
    # A second address is often in another city of the same country (a move).
    city = users.city[owner].copy()
    k = n
    moved = rng.random(owner.size - k) < 0.5
    same_country = [np.flatnonzero(CITY_COUNTRY[c] == CITY_COUNTRY) for c in city[k:]]
    city[k:] = np.where(moved, [rng.choice(opts) for opts in same_country], city[k:])
    m = owner.size
    street = np.array(
        [f"{num} {s}" for num, s in zip(rng.integers(1, 999, size=m),
                                        rng.choice(np.array(STREETS, dtype=object), size=m),
                                        strict=True)],
        dtype=object,
    )  # fmt: skip
    return {
        "id": uuids(rng, m),
        "user_id": users.ids[owner],
        "street": street,
        "city": np.array([CITIES[c][0] for c in city], dtype=object),
        "state": np.array([CITIES[c][1] for c in city], dtype=object),
        "country": np.array([CITIES[c][2] for c in city], dtype=object),
        "postal_code": np.array(
            [f"{x:05d}" for x in rng.integers(1000, 99999, size=m)], dtype=object
        ),
        "is_default": np.arange(m) < n,
        "created_at": created,
        "updated_at": created,
    }


@dataclass
class Pets:
    columns: dict[str, object]
    ids: np.ndarray
    owner: np.ndarray
    species: np.ndarray  # object species names
    created_us: np.ndarray
    removed_us: np.ndarray  # NULL_TS when not removed
    first_of_owner: np.ndarray  # pet index of each customer's first pet


def make_pets(rng: np.random.Generator, users: Users, asof_us: int) -> Pets:
    """1-3 pets per customer: the first at signup, more later; a few removed."""
    n = users.n_customers
    count = rng.choice([1, 2, 3], size=n, p=[0.62, 0.28, 0.10])
    owner = np.repeat(np.arange(n), count)
    order = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
    signup = users.created_us[owner]
    alive_end = users.life1_end[owner]
    later = signup + (rng.random(owner.size) * (alive_end - signup)).astype(np.int64)
    created = np.where(order == 0, signup + rng.integers(1, 15, size=owner.size) * MINUTE_US, later)
    created = np.minimum(created, asof_us - MINUTE_US)
    m = owner.size
    species = rng.choice(np.array(SPECIES_NAMES, dtype=object), size=m, p=[p for _, p in SPECIES])
    breed = np.array([BREEDS[s][k % len(BREEDS[s])] for s, k in
                      zip(species, rng.integers(0, 100, size=m), strict=True)], dtype=object)  # fmt: skip
    lo = np.array([WEIGHT_KG[s][0] for s in species])
    hi = np.array([WEIGHT_KG[s][1] for s in species])
    weight = np.round(lo + rng.random(m) * (hi - lo), 2)
    age_days = rng.uniform(60, 15 * 365, size=m).astype(np.int64)
    birth = (np.datetime64("1970-01-01") + (created // DAY_US - age_days)).astype("datetime64[D]")
    removed = np.where(
        (order > 0) & (rng.random(m) < 0.12),
        created + rng.integers(20, 300, size=m) * DAY_US,
        NULL_TS,
    )
    removed = np.where(removed < asof_us, removed, NULL_TS)
    ids = uuids(rng, m)
    columns = {
        "id": ids,
        "owner_id": users.ids[owner],
        "name": rng.choice(np.array(PET_NAMES, dtype=object), size=m),
        "species": species,
        "breed": breed,
        "birth_date": (birth, rng.random(m) < 0.1),
        "gender": rng.choice(
            np.array(["male", "female", "unknown"], dtype=object), size=m, p=[0.47, 0.47, 0.06]
        ),
        "weight_kg": weight,
        "created_at": created,
        "deleted_at": removed,
    }
    first = np.flatnonzero(order == 0)
    return Pets(columns, ids, owner, species, created, removed, first)
