"""``seed_source``: fill an empty PetPro source with a deterministic synthetic history.

Generation is vectorised (numpy) from one seeded generator, so the same arguments give
byte-identical rows; the tables are then loaded with COPY in one transaction, with keys and
indexes dropped and rebuilt around the load and ``petpro.keep_updated_at = on`` so the
historical ``updated_at`` values stay as generated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import psycopg
import pyarrow as pa

from petpro.errors import PetProError
from sourcedb import clock
from sourcedb.booking_choice import choose_seeded_services
from sourcedb.clock import DAY_US, MINUTE_US, SECOND_US
from sourcedb.generate_activity import (
    PROFILE_CHANGES,
    TYPE_CODE,
    Events,
    late_recorded,
    session_events,
    sessions,
)
from sourcedb.generate_bookings import make_bookings
from sourcedb.generate_people import (
    CITY_COUNTRY,
    SEGMENT_BOOKING_P,
    UA_STRINGS,
    make_addresses,
    make_pets,
    make_users,
    make_vendors,
)
from sourcedb.load import (
    NULL_TS,
    Money,
    Timestamps,
    bulk_load_constraints,
    column_length,
    copy_columns,
)
from sourcedb.schema import SOURCE_TABLES, create_schema, truncate_all
from sourcedb.server import connect

Progress = Callable[[str, int, int], None]

DEFAULT_CUSTOMERS = 20_000
DEFAULT_DAYS = 540
SEED_LATE_SHARE = 0.005
STAFF_ACTIONS = ("profile_update", "notification_settings_updated", "password_changed", "logout")

# Which generated columns are timestamps, money or dates (the rest are rendered as they are).
TS_COLUMNS = {"created_at", "updated_at", "last_login", "deleted_at", "start_time", "end_time",
              "paid_at"}  # fmt: skip
MONEY_COLUMNS = {"price", "amount"}


class SeedError(PetProError):
    """Seeding cannot proceed; the message says why and what to do."""


@dataclass
class SeedSummary:
    """Rows loaded per table, the covered local dates and the throughput."""

    rows: dict[str, int]
    start_date: date
    end_date: date
    seconds: float
    generate_seconds: float
    load_seconds: float
    seed: int
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


def default_end_date(timezone: str) -> date:
    """Two days before today in the business time zone (the next simulated day is past)."""
    return clock.today_in(timezone) - timedelta(days=2)


def validate(customers: int, days: int, end_date: date, timezone: str) -> None:
    if customers < 1:
        raise SeedError(f"--customers must be at least 1 (got {customers})")
    if days < 1:
        raise SeedError(f"--days must be at least 1 (got {days})")
    if days > 3650:
        raise SeedError(f"--days must be at most 3650 (got {days})")
    if end_date > clock.today_in(timezone):
        raise SeedError(
            f"--end-date {end_date} is in the future in {timezone}: seeded history must end "
            "today or earlier"
        )


def _render(columns: dict[str, object]) -> dict[str, object]:
    """Wrap generated arrays in the markers ``copy_columns`` renders (timestamps, money, dates)."""
    out: dict[str, object] = {}
    for name, values in columns.items():
        if isinstance(values, tuple):  # (datetime64[D] values, null mask)
            out[name] = pa.array(values[0], mask=values[1])
        elif name in TS_COLUMNS:
            out[name] = Timestamps(values)  # type: ignore[arg-type]
        elif name in MONEY_COLUMNS:
            out[name] = Money(values)  # type: ignore[arg-type]
        else:
            out[name] = values
    return out


def _concat(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, tuple):
            out[key] = (np.concatenate([x[0], y[0]]), np.concatenate([x[1], y[1]]))  # type: ignore[index]
        else:
            out[key] = np.concatenate([np.asarray(x), np.asarray(y)])
    return out


def generate(
    *,
    customers: int,
    days: int,
    end_date: date,
    seed: int,
    timezone: str,
    asof_us: int,
) -> dict[str, dict[str, object]]:
    """All source tables as generated columns (nothing touches the database)."""
    rng = np.random.default_rng(seed)
    tz = timezone
    start = end_date - timedelta(days=days - 1)
    start_day = clock.day_number(start)
    history_start = clock.local_day_start_utc(start, tz)

    users = make_users(
        rng, customers=customers, start_day=start_day, days=days, tz=tz, asof_us=asof_us
    )
    vendors, services = make_vendors(
        rng, customers=customers, history_start_us=history_start, asof_us=asof_us
    )
    n = users.n_customers
    n_core = users.ids.size  # customers + admins + system
    nv = vendors.ids.size
    # One index space over all users: customers, staff, then vendor users.
    all_ids = np.concatenate([users.ids, vendors.user_ids])
    all_created = np.concatenate([users.created_us, vendors.user_created_us])
    all_ua = UA_STRINGS[np.concatenate([users.ua, vendors.ua])]
    all_ip = np.concatenate([users.ip, vendors.ip])
    pets = make_pets(rng, users, asof_us)
    first_pet = pets.first_of_owner  # customer i's first pet index
    events = Events()

    # --- sessions -----------------------------------------------------------------------
    cust = np.arange(n)
    second = users.life2_start[:n] != NULL_TS
    owners = np.concatenate([cust, cust[second]])
    s_start = np.concatenate([users.created_us[:n], users.life2_start[:n][second]])
    s_end = np.concatenate([users.life1_end[:n], users.life2_end[:n][second]])
    s_rate = np.concatenate([users.rate[:n], users.rate[:n][second] * 0.8])
    c_owner, c_ts = sessions(rng, owners, s_start, s_end, s_rate, tz)
    staff = np.arange(n, n_core - 1)  # admins (the system user has no sessions)
    vend = np.arange(n_core, n_core + nv)
    staff_start = np.maximum(all_created[staff], history_start)
    vend_start = np.maximum(all_created[vend], history_start)
    st_owner, st_ts = sessions(
        rng, np.concatenate([staff, vend]), np.concatenate([staff_start, vend_start]),
        np.full(staff.size + vend.size, asof_us),
        np.concatenate([users.rate[staff], np.full(vend.size, 0.3)]), tz,
    )  # fmt: skip
    c_act, c_slot = session_events(rng, c_owner, c_ts)
    s_act, _ = session_events(rng, st_owner, st_ts, actions_mean=0.5, allowed=STAFF_ACTIONS)

    for act, share in ((c_act, SEED_LATE_SHARE), (s_act, 0.0)):
        events.add(act.login_user, "login", act.login_ts,
                   recorded=late_recorded(rng, act.login_ts, share, asof_us))  # fmt: skip
        keep = act.ts <= asof_us
        kind, user, ts, slot = act.kind[keep], act.user[keep], act.ts[keep], act.slot[keep]
        meta = np.full(kind.size, "{}", dtype=object)
        prof = kind == TYPE_CODE["profile_update"]
        meta[prof] = PROFILE_CHANGES[rng.integers(0, PROFILE_CHANGES.size, size=int(prof.sum()))]
        pet = kind == TYPE_CODE["pet_updated"]
        if pet.any():
            p = first_pet[user[pet]]
            ts[pet] = np.maximum(ts[pet], pets.created_us[p] + MINUTE_US)
            meta[pet] = ('{"petId": "' + pets.ids[p].astype(object) + '", "species": "'
                         + pets.species[p] + '"}')  # fmt: skip
        keep2 = ts <= asof_us
        events.add(user[keep2], kind[keep2], ts[keep2], meta[keep2], slot[keep2],
                   late_recorded(rng, ts[keep2], share, asof_us))  # fmt: skip

    # --- signups, pets, addresses, lifecycle -------------------------------------------
    events.add(np.arange(all_ids.size), "account_created", all_created)
    events.add(cust, "login", users.created_us[:n] + 30 * SECOND_US)
    verified = np.asarray(users.columns["is_email_verified"])[:n]
    v_ts = users.created_us[:n] + (rng.exponential(30.0, size=n) * MINUTE_US).astype(np.int64)
    v_ok = verified & (v_ts <= asof_us)
    events.add(cust[v_ok], "email_verified", v_ts[v_ok])
    pet_meta = ('{"petId": "' + pets.ids.astype(object) + '", "species": "' + pets.species
                + '"}')  # fmt: skip
    events.add(pets.owner, "pet_created", pets.created_us, pet_meta)
    removed = pets.removed_us != NULL_TS
    events.add(pets.owner[removed], "pet_removed", pets.removed_us[removed], pet_meta[removed])
    addr_ts = np.minimum(users.created_us[:n] + rng.integers(2, 10, size=n) * MINUTE_US, asof_us)
    events.add(cust, "address_added", addr_ts)
    has_second = rng.random(n) < 0.2
    second_at = np.where(
        has_second,
        users.created_us[:n]
        + (rng.random(n) * (users.life1_end[:n] - users.created_us[:n])).astype(np.int64),
        NULL_TS,
    )
    events.add(cust[has_second], "address_added", second_at[has_second])
    second_removed_at = second_at + rng.integers(10, 200, size=n) * DAY_US
    second_removed = has_second & (rng.random(n) < 0.15) & (second_removed_at <= asof_us)
    events.add(cust[second_removed], "address_removed", second_removed_at[second_removed])
    churned = users.life1_end[:n] < asof_us
    deact = users.deactivated[:n] & churned
    deact_at = users.life1_end[:n] + 5 * MINUTE_US
    deact &= deact_at <= asof_us
    events.add(cust[deact], "account_deactivated", deact_at[deact])
    react = deact & second
    events.add(cust[react], "account_reactivated", users.life2_start[:n][react])
    active = np.ones(all_ids.size, dtype=bool)
    active[cust[deact & ~react]] = False
    active[n_core:] = np.asarray(vendors.user_columns["active"])

    # --- bookings -------------------------------------------------------------------
    book_p = SEGMENT_BOOKING_P[users.segment[c_owner]]
    b_mask = rng.random(c_owner.size) < book_p
    first_book = rng.random(n) < 0.4
    b_user = np.concatenate([c_owner[b_mask], cust[first_book]])
    b_created = np.concatenate([
        c_ts[b_mask] + (rng.exponential(4.0, size=int(b_mask.sum())) * MINUTE_US).astype(np.int64),
        users.created_us[:n][first_book] + rng.integers(15, 60, size=int(first_book.sum())) * MINUTE_US,
    ])  # fmt: skip
    b_slot = np.concatenate([c_slot[b_mask], np.zeros(int(first_book.sum()), dtype=np.int8)])
    ok = b_created <= asof_us
    b_user, b_created, b_slot = b_user[ok], b_created[ok], b_slot[ok]
    order = np.argsort(b_created, kind="stable")
    b_user, b_created, b_slot = b_user[order], b_created[order], b_slot[order]
    b_pet = pets.ids[first_pet[b_user]].astype(object)
    b_pet[rng.random(b_user.size) < 0.05] = None
    chosen = choose_seeded_services(rng, users, vendors, services, pets, b_user, b_created)
    tables = make_bookings(
        rng, user=b_user, user_ids=all_ids, created=b_created, slot=b_slot,
        country=CITY_COUNTRY[users.city[b_user]], pet_id=b_pet, services=services,
        asof_us=asof_us, events=events, chosen=chosen,
    )  # fmt: skip

    # --- derived columns ----------------------------------------------------------------
    login_user, login_ts = events.by_code("login")
    last_login = np.full(all_ids.size, NULL_TS)
    np.maximum.at(last_login, login_user, login_ts)
    updated = all_created.copy()
    for kind in ("profile_update", "account_deactivated", "account_reactivated"):
        u, t = events.by_code(kind)
        np.maximum.at(updated, u, t)
    user_cols = _concat(users.columns, vendors.user_columns)
    user_cols["active"] = active
    user_cols["last_login"] = last_login
    user_cols["created_at"] = all_created
    user_cols["updated_at"] = updated
    user_cols["deleted_at"] = np.full(all_ids.size, NULL_TS)

    pet_updated = pets.created_us.copy()
    pu_user, pu_ts = events.by_code("pet_updated")
    np.maximum.at(pet_updated, first_pet[pu_user[pu_user < n]], pu_ts[pu_user < n])
    pet_updated = np.where(removed, np.maximum(pet_updated, pets.removed_us), pet_updated)
    pet_cols = dict(pets.columns)
    pet_cols["updated_at"] = pet_updated

    addresses = make_addresses(rng, users, second_at, second_removed)
    au_user, au_ts = events.by_code("address_updated")
    addr_updated = np.asarray(addresses["created_at"]).copy()
    default_row = np.arange(n)  # first n rows are the default addresses, in customer order
    cust_upd = au_user < n
    np.maximum.at(addr_updated, default_row[au_user[cust_upd]], au_ts[cust_upd])
    addresses["updated_at"] = addr_updated

    # Vendor ratings from their published reviews.
    vendor_index = {v: i for i, v in enumerate(vendors.ids)}
    r_vendor = np.array([vendor_index[v] for v in tables.reviews["vendor_id"]], dtype=np.int64)  # type: ignore[union-attr]
    published = np.asarray(tables.reviews["status"]) == "published"
    total = np.bincount(
        r_vendor[published], weights=np.asarray(tables.reviews["rating"])[published], minlength=nv
    )
    count = np.bincount(r_vendor[published], minlength=nv)
    rating = np.full(nv, None, dtype=object)
    rated = count > 0
    rating[rated] = np.char.mod("%.2f", total[rated] / count[rated]).astype(object)
    vendor_cols = dict(vendors.columns)
    vendor_cols["average_rating"] = rating

    activities = events.columns(rng, all_ids, all_ua, all_ip)
    return {
        "users": _render(user_cols),
        "user_addresses": _render(addresses),
        "pets": _render(pet_cols),
        "vendors": _render(vendor_cols),
        "services": _render(services.columns),
        "bookings": _render(tables.bookings),
        "payments": _render(tables.payments),
        "reviews": _render(tables.reviews),
        "activities": activities,
    }


def is_empty(conn: psycopg.Connection) -> bool:
    return all(
        conn.execute(f"select not exists (select 1 from {t})").fetchone()[0]  # type: ignore[index]
        for t in SOURCE_TABLES
    )


def seed_source(
    url: str,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    days: int = DEFAULT_DAYS,
    end_date: date | None = None,
    seed: int = 42,
    reset: bool = False,
    timezone: str = "UTC",
    progress: Progress | None = None,
) -> SeedSummary:
    """Fill the source at ``url`` with ``customers`` customers over ``days`` days.

    The history ends on ``end_date`` (default: two days before today in ``timezone``).
    Refuses a non-empty database unless ``reset`` (which truncates every table first).
    """
    end = end_date or default_end_date(timezone)
    validate(customers, days, end, timezone)
    report = progress or (lambda stage, done, total: None)
    t0 = time.perf_counter()
    with connect(url) as conn:
        create_schema(conn)
        if not is_empty(conn) and not reset:
            raise SeedError(
                "the source database already holds data: pass --reset to replace it "
                "(this truncates every table), or use `petpro source simulate-day` to add to it"
            )
        asof = min(clock.local_day_start_utc(end + timedelta(days=1), timezone) - 1,
                   clock.now_us() - SECOND_US)  # fmt: skip
        report("generate", 0, 1)
        tables = generate(
            customers=customers, days=days, end_date=end, seed=seed, timezone=timezone,
            asof_us=asof,
        )  # fmt: skip
        report("generate", 1, 1)
        t1 = time.perf_counter()
        rows = {name: column_length(next(iter(cols.values()))) for name, cols in tables.items()}
        total = sum(rows.values())
        done = 0

        def advance(k: int) -> None:
            nonlocal done
            done += k
            report("load", done, total)

        with conn.transaction():
            # Truncating (even empty tables) in the loading transaction lets COPY freeze rows
            # and, on a server with wal_level=minimal, skip WAL.
            conn.execute("truncate " + ", ".join(SOURCE_TABLES) + " cascade")
            conn.execute("set local petpro.keep_updated_at = on")
            conn.execute("set local maintenance_work_mem = '256MB'")
            with bulk_load_constraints(conn):
                for name in SOURCE_TABLES:
                    copy_columns(conn, name, tables[name], progress=advance, freeze=True)
                report("index", 0, 1)
            report("index", 1, 1)
        conn.execute("analyze")
        t2 = time.perf_counter()
    return SeedSummary(
        rows=rows,
        start_date=end - timedelta(days=days - 1),
        end_date=end,
        seconds=t2 - t0,
        generate_seconds=t1 - t0,
        load_seconds=t2 - t1,
        seed=seed,
    )


__all__ = ["SeedError", "SeedSummary", "seed_source", "truncate_all"]
