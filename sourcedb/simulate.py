"""``simulate_day``: advance the source by one day the way the live application would.

Reads the current state (customers and how recently they were active, first pets, services,
open bookings, recent payments), then writes one day of life in one transaction: new signups
with their first pet and address; sessions of returning customers, staff and vendors with
their account edits (which touch ``updated_at`` of users, pets and addresses); new bookings;
status transitions of earlier bookings (pending → confirmed → in progress → completed or no
show, cancellations) with their payments, refunds and reviews; about 1% of the day's
activities arriving late (timestamp one to three days earlier, recorded on the simulated day);
and occasionally one account deactivated and one customer erased (``delete from users``,
which cascades). The same source state, day and seed give the same changes.

*Incidents* (:data:`INCIDENTS`, ``simulate_day(..., incident=NAME)``) make one day go wrong
the way production days do, for testing the anomaly detection of :mod:`insights`:
``payment_outage`` (most payment attempts fail during some hours), ``signup_spike`` (a
campaign multiplies signups) and ``booking_drop`` (an app release breaks booking from the
morning on). They draw from their own seeded generator, so an incident changes only what it
is about; everything else happens as on a normal day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import psycopg

from petpro.errors import PetProError
from sourcedb import clock
from sourcedb.booking_choice import (
    PUPPY_DAYS,
    History,
    affinity,
    build_market,
    choose_history,
    rating_of,
    species_group,
    uuid_keys,
)
from sourcedb.clock import DAY_US, HOUR_US, MINUTE_US, SECOND_US
from sourcedb.generate_activity import (
    PROFILE_CHANGES,
    TYPE_CODE,
    Events,
    session_events,
)
from sourcedb.generate_bookings import booking_meta, make_bookings, payment_meta
from sourcedb.generate_people import (
    CATEGORIES,
    CITY_COUNTRY,
    COUNTRIES,
    SEGMENT_BOOKING_P,
    UA_STRINGS,
    Pets,
    Services,
    Users,
    make_addresses,
    make_pets,
    make_users,
)
from sourcedb.identifiers import ip_addresses, uuids
from sourcedb.load import NULL_TS, copy_columns
from sourcedb.reference import CITIES, SIGNUP_WEEKDAY_WEIGHTS
from sourcedb.schema import create_schema
from sourcedb.seed import STAFF_ACTIONS, _render
from sourcedb.server import connect

LATE_SHARE = 0.01
LATE_TYPES = ("login", "logout", "notification_settings_updated", "password_changed",
              "profile_update")  # fmt: skip
ERASURE_P = 0.4
DEACTIVATION_P = 0.6
REFUND_DAILY_P = 0.003


@dataclass(frozen=True)
class Incident:
    """What goes wrong on an incident day (local hours ``[start_hour, end_hour)``)."""

    name: str
    description: str
    start_hour: int = 0
    end_hour: int = 24
    # payment_outage: share of payment attempts that fail in the window.
    payment_failure_share: float = 0.0
    # signup_spike: factor on the day's expected signups.
    signup_factor: float = 1.0
    # booking_drop: share of booking attempts that never reach the backend in the window.
    booking_loss_share: float = 0.0


INCIDENTS: dict[str, Incident] = {
    incident.name: incident
    for incident in (
        Incident(
            "payment_outage",
            "the payment provider is down from 08:00 to 16:00: 90% of payment attempts in that "
            "window fail (status failed, no payment_made activity)",
            start_hour=8,
            end_hour=16,
            payment_failure_share=0.9,
        ),
        Incident(
            "signup_spike",
            "a marketing campaign: four times the usual signups over the whole day",
            signup_factor=4.0,
        ),
        Incident(
            "booking_drop",
            "an app release at 07:00 breaks booking: 85% of booking attempts from then on "
            "are lost (no booking, no booking_created activity)",
            start_hour=7,
            booking_loss_share=0.85,
        ),
    )
}


class SimulateError(PetProError):
    """The day cannot be simulated; the message says why and what to do."""


@dataclass
class DaySummary:
    """What one simulated day changed."""

    day: date
    inserts: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    late_activities: int = 0
    deleted_users: int = 0
    deactivated_users: int = 0
    incident: str | None = None


def _us(ts: object) -> int:
    return clock.to_us(ts)  # type: ignore[arg-type]


def _latest_activity_day(conn: psycopg.Connection, tz: str) -> date | None:
    row = conn.execute(
        "select (max(timestamp) at time zone %s)::date from activities", (tz,)
    ).fetchone()
    return row[0] if row else None


def _services(conn: psycopg.Connection) -> Services:
    rows = conn.execute(
        "select s.id::text, s.vendor_id::text, s.category::text, (s.price * 100)::bigint, "
        "s.currency, coalesce(s.duration_minutes, 60), v.country, v.status::text, v.city "
        "from services s join vendors v on v.id = s.vendor_id where s.is_active order by s.id"
    ).fetchall()
    if not rows:
        raise SimulateError("the source has no active services: seed it first")
    ids = np.array([r[0] for r in rows], dtype="<U36")
    vendor_ids = np.array([r[1] for r in rows], dtype=object)
    cat = np.array([CATEGORIES.index(r[2]) for r in rows])
    country = np.array([COUNTRIES.index(r[6]) if r[6] in COUNTRIES else 0 for r in rows])
    bookable = np.array([r[7] in ("active", "inactive") for r in rows])
    services = Services(
        columns={"vendor_id": vendor_ids, "city": np.array([r[8] for r in rows], dtype=object)},
        ids=ids,
        vendor=np.zeros(len(rows), dtype=np.int64),
        category=cat,
        country=country,
        price_cents=np.array([r[3] for r in rows], dtype=np.int64),
        currency=np.array([r[4] for r in rows], dtype=object),
        duration_min=np.array([r[5] for r in rows], dtype=np.int64),
    )
    everything = np.arange(len(rows))
    for ci in range(len(COUNTRIES)):
        for k in range(len(CATEGORIES)):
            idx = np.flatnonzero((country == ci) & (cat == k) & bookable)
            if idx.size == 0:
                idx = np.flatnonzero(cat == k)
            services.by_market[(ci, k)] = idx if idx.size else everything
    return services


def _choose_services(
    conn: psycopg.Connection,
    rng: np.random.Generator,
    services: Services,
    b_user: np.ndarray,
    b_created: np.ndarray,
    all_ids: np.ndarray,
    new: Users,
    new_pets: Pets,
) -> tuple[np.ndarray, np.ndarray]:
    """(service index, affinity) of the day's bookings by the rules of ``booking_choice``.

    Reads what the rules remember for the booking customers from the source: their city,
    their first pet's species and birth date, and every earlier booking (the category of the
    last one, and per category the service they like best, which they return to).
    """
    n_all = all_ids.size
    m = n_all - new.ids.size
    city_index = {c[0]: i for i, c in enumerate(CITIES)}
    market = build_market(
        services.ids, services.category,
        np.array([city_index.get(c, -1) for c in services.columns["city"]]),  # type: ignore[attr-defined]
        services.country, bookable=np.ones(services.ids.size, dtype=bool),
        active=np.ones(services.ids.size, dtype=bool), n_countries=len(COUNTRIES),
    )  # fmt: skip
    city = np.full(n_all, -1, dtype=np.int64)
    species = np.full(n_all, None, dtype=object)
    birth_day = np.full(n_all, np.iinfo(np.int64).min // 2, dtype=np.int64)
    first = new_pets.first_of_owner
    city[m:] = new.city
    species[m:] = new_pets.species[first]
    births, births_null = new_pets.columns["birth_date"]  # type: ignore[misc]
    birth_day[m:] = np.where(np.asarray(births_null)[first], birth_day[m:],
                             np.asarray(births)[first].astype("datetime64[D]").astype(np.int64))  # fmt: skip
    wanted = sorted({str(all_ids[u]) for u in b_user if u < m})
    index_of = {str(all_ids[i]): i for i in range(m)}
    for uid, city_name, sp, born in conn.execute(
        "select u.id::text, a.city, p.species::text, p.birth_date from unnest(%s::uuid[]) q(id) "
        "join users u on u.id = q.id "
        "left join lateral (select x.city from user_addresses x where x.user_id = u.id "
        "  order by x.is_default desc, x.created_at desc, x.id limit 1) a on true "
        "left join lateral (select y.species, y.birth_date from pets y where y.owner_id = u.id "
        "  and y.deleted_at is null order by y.created_at, y.id limit 1) p on true",
        (wanted,),
    ).fetchall():
        i = index_of[uid]
        city[i] = city_index.get(city_name, -1)
        species[i] = sp
        if born is not None:
            birth_day[i] = (born - date(1970, 1, 1)).days
    country = np.where(city >= 0, CITY_COUNTRY[np.clip(city, 0, None)], -1)
    keys = uuid_keys(all_ids)
    history = History.empty(n_all)
    past = conn.execute(
        "select b.user_id::text, b.service_id::text from bookings b "
        "where b.user_id = any(%s::uuid[]) order by b.user_id, b.created_at, b.id",
        (wanted,),
    ).fetchall()
    service_of = {sid: j for j, sid in enumerate(services.ids)}
    known = [(index_of[u], service_of[s]) for u, s in past if s in service_of]
    if known:
        p_user, p_svc = (np.array(x, dtype=np.int64) for x in zip(*known, strict=True))
        p_cat = market.category[p_svc]
        history.prev_cat[p_user] = p_cat  # rows are in time order: the last one stays
        p_aff = affinity(keys[p_user], market.key[p_svc], market.quality[p_svc])
        best = np.lexsort((p_aff, p_cat, p_user))  # per (customer, category) the best last
        history.home[p_user[best], p_cat[best]] = p_svc[best]
        history.home_affinity[p_user[best], p_cat[best]] = p_aff[best]
    puppy = (species[b_user] == "dog") & (b_created // DAY_US - birth_day[b_user] < PUPPY_DAYS)
    return choose_history(
        rng, market, b_user, customer_key=keys, city=city, country=country,
        group=species_group(species), puppy=puppy, history=history,
    )  # fmt: skip


def simulate_day(
    url: str,
    day: date | None = None,
    *,
    seed: int = 7,
    timezone: str = "UTC",
    erasures: int | None = None,
    deactivations: int | None = None,
    incident: str | None = None,
) -> DaySummary:
    """Simulate ``day`` (default: the day after the latest activity day) on the source.

    ``erasures``/``deactivations`` fix how many customers are erased/deactivated; by default
    one of each happens with probability 0.4/0.6 (drawn from the seeded generator).
    ``incident`` names one of :data:`INCIDENTS` to make the day go wrong that way.
    """
    tz = timezone
    chosen_incident = incident_named(incident) if incident else None
    with connect(url) as conn:
        create_schema(conn)
        latest = _latest_activity_day(conn, tz)
        if latest is None:
            raise SimulateError(
                "the source holds no activities: seed it first with `petpro source seed`"
            )
        day = day or latest + timedelta(days=1)
        today = clock.today_in(tz)
        if day > today:
            raise SimulateError(
                f"{day} has not started yet in {tz} (today is {today}): choose an earlier --date"
            )
        if day < latest:
            raise SimulateError(
                f"the source already holds activities up to {latest}: simulate {latest} or a "
                "later day"
            )
        rng = np.random.default_rng([seed, day.toordinal()])
        day_start = clock.local_day_start_utc(day, tz)
        cap = min(clock.local_day_start_utc(day + timedelta(days=1), tz) - 1,
                  clock.now_us() - SECOND_US)  # fmt: skip
        hooks = (
            _IncidentHooks(
                chosen_incident, np.random.default_rng([seed, day.toordinal(), 9_173]), day_start
            )
            if chosen_incident
            else None
        )
        summary = _simulate(conn, rng, day, day_start, cap, tz, erasures, deactivations, hooks)
        summary.incident = chosen_incident.name if chosen_incident else None
        return summary


def incident_named(name: str) -> Incident:
    """The incident called ``name``; a :class:`SimulateError` naming the known ones otherwise."""
    try:
        return INCIDENTS[name]
    except KeyError:
        raise SimulateError(
            f"unknown incident {name!r}: choose one of {', '.join(sorted(INCIDENTS))}"
        ) from None


class _IncidentHooks:
    """Applies one incident inside :func:`_simulate` with its own generator."""

    def __init__(self, incident: Incident, rng: np.random.Generator, day_start: int) -> None:
        self.incident = incident
        self.rng = rng
        self.window = (
            day_start + incident.start_hour * HOUR_US,
            day_start + incident.end_hour * HOUR_US,
        )
        self.failed_payments: set[str] = set()

    def in_window(self, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts, dtype=np.int64)
        return (ts >= self.window[0]) & (ts < self.window[1])

    def signups(self, expected: float) -> float:
        return expected * self.incident.signup_factor

    def keep_bookings(self, created: np.ndarray) -> np.ndarray:
        """Which booking attempts reach the backend."""
        lost = self.in_window(created) & (
            self.rng.random(created.size) < self.incident.booking_loss_share
        )
        return ~lost

    def payment_fails(self, at: int) -> bool:
        return bool(
            self.in_window(np.array([at]))[0]
            and self.rng.random() < self.incident.payment_failure_share
        )

    def fail_new_payments(self, payments: dict[str, object]) -> None:
        """Turn attempts of the generated prepaid payments in the window into failures."""
        if not self.incident.payment_failure_share or "status" not in payments:
            return
        status = np.asarray(payments["status"], dtype=object)
        created = np.asarray(payments["created_at"], dtype=np.int64)
        hit = (
            self.in_window(created)
            & (status != "failed")
            & (self.rng.random(status.size) < self.incident.payment_failure_share)
        )
        if not hit.any():
            return
        status = status.copy()
        status[hit] = "failed"
        payments["status"] = status
        payments["paid_at"] = np.where(hit, NULL_TS, np.asarray(payments["paid_at"]))
        payments["updated_at"] = np.where(hit, created, np.asarray(payments["updated_at"]))
        self.failed_payments.update(str(i) for i in np.asarray(payments["id"])[hit])

    def drop_failed_payment_events(self, events: Events) -> None:
        """A failed attempt leaves no ``payment_made`` activity."""
        if not self.failed_payments:
            return
        made = TYPE_CODE["payment_made"]
        for i, codes in enumerate(events.code):
            if not (codes == made).any():
                continue
            keep = np.array(
                [
                    code != made or _payment_id(meta) not in self.failed_payments
                    for code, meta in zip(codes, events.meta[i], strict=True)
                ],
                dtype=bool,
            )
            for name in ("user", "code", "ts", "meta", "slot", "recorded"):
                column = getattr(events, name)
                column[i] = column[i][keep]


def _payment_id(meta: object) -> str:
    text = str(meta)
    start = text.find('"paymentId": "')
    return text[start + 14 : start + 50] if start >= 0 else ""


def _simulate(
    conn: psycopg.Connection,
    rng: np.random.Generator,
    day: date,
    day_start: int,
    cap: int,
    tz: str,
    erasures: int | None,
    deactivations: int | None,
    hooks: _IncidentHooks | None = None,
) -> DaySummary:
    summary = DaySummary(day=day)
    window = day_start - 28 * DAY_US
    # One pass over the last 28 days of activities (timestamp index), joined in SQL by hash.
    rows = conn.execute(
        "with r as (select x.user_id, count(distinct (x.timestamp at time zone %(tz)s)::date) days, "
        "  (array_agg(x.user_agent order by x.timestamp desc, x.id))[1] ua, "
        "  (array_agg(x.ip_address order by x.timestamp desc, x.id))[1] ip "
        "  from activities x where x.timestamp >= to_timestamp(%(w)s) "
        "  and x.timestamp < to_timestamp(%(s)s) group by x.user_id) "
        "select u.id::text, u.role::text, u.active, u.created_at, coalesce(a.country, ''), "
        "coalesce(r.days, 0), r.ua, r.ip "
        "from users u "
        "left join user_addresses a on a.user_id = u.id and a.is_default "
        "left join r on r.user_id = u.id "
        "where u.deleted_at is null and u.created_at < to_timestamp(%(s)s) "
        "order by u.id, a.id",
        {"tz": tz, "w": window / 1e6, "s": day_start / 1e6},
    ).fetchall()
    seen: set[str] = set()
    rows = [r for r in rows if not (r[0] in seen or seen.add(r[0]))]  # type: ignore[func-returns-value]
    ids = np.array([r[0] for r in rows], dtype="<U36")
    role = np.array([r[1] for r in rows], dtype=object)
    active = np.array([r[2] for r in rows], dtype=bool)
    recent_days = np.array([r[5] for r in rows], dtype=np.int64)
    country_names = [r[4] for r in rows]
    country = np.array([COUNTRIES.index(c) if c in COUNTRIES else 0 for c in country_names])
    m = ids.size
    signup_us = np.array([_us(r[3]) for r in rows], dtype=np.int64)
    fresh_ua = UA_STRINGS[rng.choice(UA_STRINGS.size, size=(m, 2))]
    ua = fresh_ua.copy()
    ip_known = np.array([r[7] for r in rows], dtype=object)
    ip = ip_addresses(rng, 2 * m).reshape(m, 2)
    known = np.array([r[6] is not None for r in rows], dtype=bool)
    ua[known, 0] = np.array([r[6] for r in rows], dtype=object)[known]
    ip[known, 0] = ip_known[known]

    customer = role == "customer"
    cust_idx = np.flatnonzero(customer & active)
    # Erasures and deactivations are chosen first so that those customers have no sessions.
    n_erase = erasures if erasures is not None else int(rng.random() < ERASURE_P)
    n_deact = deactivations if deactivations is not None else int(rng.random() < DEACTIVATION_P)
    chosen = rng.permutation(cust_idx)[: n_erase + n_deact]
    erase_idx, deact_idx = chosen[:n_erase], chosen[n_erase:]
    excluded = np.zeros(m, dtype=bool)
    excluded[chosen] = True

    # Who comes back today: recent visitors at their recent rate, long-absent ones rarely.
    p = np.where(recent_days > 0, np.clip(recent_days / 28 * 0.9, 0.02, 0.9), 0.004)
    p = np.where(customer & active & ~excluded, p, 0.0)
    p = np.where(role == "admin", 0.6, p)
    p = np.where(role == "vendor", np.where(active, 0.3, 0.0), p)
    visit = rng.random(m) < p
    owners = np.flatnonzero(visit)
    counts = 1 + rng.poisson(0.25, size=owners.size)
    owners = np.repeat(owners, counts)
    keep, s_ts = clock.rhythm_times(
        rng, np.full(owners.size, day_start), np.full(owners.size, day_start + DAY_US), tz
    )
    s_owner = owners[keep]
    order = np.lexsort((s_ts, s_owner))
    s_owner, s_ts = s_owner[order], s_ts[order]
    ok = s_ts <= cap
    s_owner, s_ts = s_owner[ok], s_ts[ok]

    # New signups at the recent daily rate with the weekday pattern.
    recent_signups = conn.execute(
        "select count(*) from users where role = 'customer' and created_at >= to_timestamp(%s) "
        "and created_at < to_timestamp(%s)",
        (window / 1e6, day_start / 1e6),
    ).fetchone()[0]  # type: ignore[index]
    weekday = SIGNUP_WEEKDAY_WEIGHTS[day.weekday()] / np.mean(SIGNUP_WEEKDAY_WEIGHTS)
    expected_signups = max(recent_signups / 28.0, 1.0) * weekday
    if hooks:
        expected_signups = hooks.signups(expected_signups)
    n_new = int(rng.poisson(expected_signups))
    new = make_users(
        rng, customers=n_new, start_day=clock.day_number(day), days=1, tz=tz, asof_us=cap,
        staff=False,
    )  # fmt: skip
    new_ok = new.created_us >= day_start
    new.created_us = np.maximum(new.created_us, day_start)
    # Index space for events: existing users, then today's signups.
    all_ids = np.concatenate([ids, new.ids])
    all_ua = np.concatenate([ua, UA_STRINGS[new.ua]])
    all_ip = np.concatenate([ip, new.ip])
    new_index = m + np.arange(n_new)
    events = Events()

    # First pets of today's signups, and the first pet of everyone else (for edits/bookings).
    new.life1_end = np.maximum(new.life1_end, new.created_us)
    pets = make_pets(rng, new, cap)
    first = pets.first_of_owner
    pet_cols = {k: (v[first] if not isinstance(v, tuple) else (v[0][first], v[1][first]))
                for k, v in pets.columns.items()}  # fmt: skip
    pet_cols["updated_at"] = pets.created_us[first]
    pet_rows = conn.execute(
        "select distinct on (owner_id) owner_id::text, id::text, species::text from pets "
        "where deleted_at is null order by owner_id, created_at, id"
    ).fetchall()
    pet_of = {r[0]: (r[1], r[2]) for r in pet_rows}
    pet_id = np.array([pet_of.get(u, (None, None))[0] for u in ids] +
                      list(pets.ids[first]), dtype=object)  # fmt: skip
    pet_species = np.array([pet_of.get(u, (None, None))[1] for u in ids] +
                           list(pets.species[first]), dtype=object)  # fmt: skip

    events.add(new_index, "account_created", new.created_us)
    events.add(new_index, "login", new.created_us + 30 * SECOND_US)
    events.add(new_index, "pet_created", pets.created_us[first],
               '{"petId": "' + pets.ids[first].astype(object) + '", "species": "'
               + pets.species[first] + '"}')  # fmt: skip
    addresses = make_addresses(rng, new, np.full(n_new, NULL_TS), np.zeros(n_new, dtype=bool))
    addr_ts = np.minimum(new.created_us + 3 * MINUTE_US, cap)
    addresses["created_at"] = addr_ts
    addresses["updated_at"] = addr_ts
    events.add(new_index, "address_added", addr_ts)
    verified = np.asarray(new.columns["is_email_verified"])
    v_ts = new.created_us + 20 * MINUTE_US
    v_ok = verified & (v_ts <= cap)
    events.add(new_index[v_ok], "email_verified", v_ts[v_ok])
    new_cols = dict(new.columns)
    new_cols["is_email_verified"] = v_ok
    new_cols["created_at"] = new.created_us
    new_cols["updated_at"] = np.where(v_ok, v_ts, new.created_us)
    new_cols["last_login"] = new.created_us + 30 * SECOND_US
    new_cols["deleted_at"] = np.full(n_new, NULL_TS)
    del new_ok

    # Sessions of existing users.
    is_staff = (role[s_owner] == "admin") | (role[s_owner] == "vendor")
    c_act, c_slot = session_events(rng, s_owner[~is_staff], s_ts[~is_staff])
    st_act, _ = session_events(rng, s_owner[is_staff], s_ts[is_staff], actions_mean=0.5,
                               allowed=STAFF_ACTIONS)  # fmt: skip
    late_total = 0
    user_updates: list[tuple[str, int]] = []
    pet_updates: list[tuple[str, int]] = []
    addr_updates: list[tuple[str, int]] = []
    for act in (c_act, st_act):
        kind = np.concatenate([np.full(act.login_user.size, TYPE_CODE["login"]), act.kind])
        user = np.concatenate([act.login_user, act.user])
        ts = np.concatenate([act.login_ts, act.ts])
        slot = np.concatenate([np.zeros(act.login_user.size, dtype=np.int8), act.slot])
        keep = ts <= cap
        kind, user, ts, slot = kind[keep], user[keep], ts[keep], slot[keep]
        meta = np.full(kind.size, "{}", dtype=object)
        prof = kind == TYPE_CODE["profile_update"]
        meta[prof] = PROFILE_CHANGES[rng.integers(0, PROFILE_CHANGES.size, size=int(prof.sum()))]
        pet = (kind == TYPE_CODE["pet_updated"]) & (pet_id[user] != None)  # noqa: E711
        kind[(kind == TYPE_CODE["pet_updated"]) & ~pet] = TYPE_CODE["notification_settings_updated"]
        meta[pet] = ('{"petId": "' + pet_id[user[pet]] + '", "species": "'
                     + pet_species[user[pet]] + '"}')  # fmt: skip
        # About 1% of what clients send arrives late: an earlier timestamp, recorded today.
        recorded = ts.copy()
        late_ok = np.isin(kind, [TYPE_CODE[t] for t in LATE_TYPES])
        late = late_ok & (rng.random(kind.size) < LATE_SHARE)
        if not late.any() and late_ok.any():
            late[np.flatnonzero(late_ok)[0]] = True
        shifted = np.maximum(
            ts - rng.integers(DAY_US, 3 * DAY_US, size=ts.size), signup_us[user] + SECOND_US
        )  # never before the signup
        ts = np.where(late, shifted, ts)
        late_total += int(late.sum())
        events.add(user, kind, ts, meta, slot, recorded)
        for code, bucket in ((TYPE_CODE["profile_update"], user_updates),
                             (TYPE_CODE["pet_updated"], pet_updates),
                             (TYPE_CODE["address_updated"], addr_updates)):  # fmt: skip
            sel = kind == code
            for u, t in zip(user[sel], recorded[sel], strict=True):
                bucket.append(
                    (str(pet_id[u]) if code == TYPE_CODE["pet_updated"] else ids[u], int(t))
                )
    summary.late_activities = late_total
    login_last: dict[int, int] = {}
    for u, t in zip(np.concatenate([c_act.login_user, st_act.login_user]),
                    np.concatenate([c_act.login_ts, st_act.login_ts]), strict=True):  # fmt: skip
        if t <= cap:
            login_last[int(u)] = max(login_last.get(int(u), 0), int(t))

    # New bookings from today's customer sessions and from some of today's signups.
    c_owner, c_ts = c_act.login_user, c_act.login_ts
    b_mask = (rng.random(c_owner.size) < SEGMENT_BOOKING_P.mean()) & (pet_id[c_owner] != None)  # noqa: E711
    first_book = rng.random(n_new) < 0.4
    b_user = np.concatenate([c_owner[b_mask], new_index[first_book]])
    b_created = np.concatenate([
        c_ts[b_mask] + (rng.exponential(4.0, size=int(b_mask.sum())) * MINUTE_US).astype(np.int64),
        new.created_us[first_book] + rng.integers(15, 60, size=int(first_book.sum())) * MINUTE_US,
    ])  # fmt: skip
    b_slot = np.concatenate([c_slot[b_mask], np.zeros(int(first_book.sum()), dtype=np.int8)])
    ok = b_created <= cap
    if hooks:
        ok &= hooks.keep_bookings(b_created)
    b_user, b_created, b_slot = b_user[ok], b_created[ok], b_slot[ok]
    all_country = np.concatenate([country, CITY_COUNTRY[new.city]])
    services = _services(conn)
    chosen = _choose_services(conn, rng, services, b_user, b_created, all_ids, new, pets)
    tables = make_bookings(
        rng, user=b_user, user_ids=all_ids, created=b_created, slot=b_slot,
        country=all_country[b_user], pet_id=pet_id[b_user], services=services, asof_us=cap,
        events=events, chosen=chosen,
    )  # fmt: skip
    if hooks:
        hooks.fail_new_payments(tables.payments)

    # Transitions of earlier bookings.
    index_of = {u: i for i, u in enumerate(ids)}
    open_rows = conn.execute(
        "select b.id::text, b.user_id::text, b.status::text, b.start_time, b.end_time, "
        "b.created_at, (b.amount * 100)::bigint, b.currency, s.category::text, "
        "(select p.id::text from payments p where p.booking_id = b.id and p.status = 'paid' "
        " order by p.id limit 1), b.service_id::text "
        "from bookings b join services s on s.id = b.service_id "
        "where b.status in ('pending', 'confirmed', 'in_progress') and b.created_at < to_timestamp(%s) "
        "order by b.id",
        (day_start / 1e6,),
    ).fetchall()
    booking_updates: list[tuple[str, str, int, str | None]] = []
    new_payments: list[tuple] = []
    failed_payments: list[tuple] = []
    refunds: list[tuple[str, int]] = []
    reviews: list[tuple] = []
    erased = set(erase_idx.tolist())
    for bid, uid, status, start, end, _created, cents, cur, cat, paid_id, sid in open_rows:
        u = index_of.get(uid)
        if u is None or u in erased:
            continue
        start_us, end_us = _us(start), _us(end)
        at = int(day_start + rng.integers(6 * HOUR_US, 22 * HOUR_US))
        meta = booking_meta(np.array([bid]), np.array([cat]))[0]
        roll = rng.random()
        if status in ("pending", "confirmed") and start_us > cap and roll < 0.03:
            at = min(at, cap)
            booking_updates.append((bid, "cancelled", at, "Changed plans"))
            events.add(np.array([u]), "booking_cancelled", np.array([at]), np.array([meta], object))
            if paid_id:
                refunds.append((paid_id, at + 10 * MINUTE_US))
            continue
        if status == "pending" and start_us < day_start + 10 * DAY_US and roll < 0.7:
            at = min(at, cap, max(start_us - HOUR_US, day_start))
            booking_updates.append((bid, "confirmed", at, None))
            events.add(np.array([u]), "booking_updated", np.array([at]), np.array([meta], object))
            status = "confirmed"
        if status in ("confirmed", "in_progress") and start_us <= cap:
            if end_us > cap:
                if status == "confirmed":
                    booking_updates.append((bid, "in_progress", max(start_us, day_start), None))
                continue
            done_at = max(end_us, day_start + int(rng.integers(0, 6 * HOUR_US)))
            done_at = min(done_at, cap)
            outcome = "no_show" if rng.random() < 0.05 else "completed"
            booking_updates.append((bid, outcome, done_at, None))
            if outcome == "completed" and not paid_id:
                pay_at = min(done_at + MINUTE_US, cap)
                pid = str(uuids(rng, 1)[0])
                if hooks and hooks.payment_fails(pay_at):
                    failed_payments.append((pid, bid, uid, cents, cur, pay_at))
                else:
                    new_payments.append((pid, bid, uid, cents, cur, pay_at))
                    events.add(np.array([u]), "payment_made", np.array([pay_at]),
                               payment_meta(np.array([pid]), np.array([cents]), np.array([cur], object)))  # fmt: skip
            if outcome == "completed" and rng.random() < 0.35:
                r_at = min(done_at + int(rng.integers(HOUR_US, 8 * HOUR_US)), cap)
                rid = str(uuids(rng, 1)[0])
                rating = rating_of(rng, uid, sid)  # customers rate what they like well
                reviews.append((rid, uid, bid, rating, r_at))
                events.add(np.array([u]), "review_submitted", np.array([r_at]), np.array([
                    f'{{"reviewId": "{rid}", "targetType": "service", "targetId": "{sid}", '
                    f'"rating": {rating}}}'], dtype=object))  # fmt: skip

    # Occasional refunds of recent paid payments.
    recent_paid = conn.execute(
        "select p.id::text, p.user_id::text, (p.amount * 100)::bigint, p.currency from payments p "
        "where p.status = 'paid' and p.paid_at >= to_timestamp(%s) and p.paid_at < to_timestamp(%s) "
        "order by p.id",
        ((day_start - 14 * DAY_US) / 1e6, day_start / 1e6),
    ).fetchall()
    refunded_meta: dict[str, tuple[int, str, str]] = {}
    for pid, uid, cents, cur in recent_paid:
        if rng.random() < REFUND_DAILY_P and uid in index_of and index_of[uid] not in erased:
            at = min(int(day_start + rng.integers(8 * HOUR_US, 20 * HOUR_US)), cap)
            refunds.append((pid, at))
            refunded_meta[pid] = (cents, cur, uid)
    if refunds:
        info = {r[0]: (r[2], r[3], r[1]) for r in conn.execute(
            "select id::text, user_id::text, (amount * 100)::bigint, currency from payments "
            "where id = any(%s::uuid[])", ([r[0] for r in refunds],)).fetchall()}  # fmt: skip
        for pid, at in refunds:
            cents, cur, uid = info[pid]
            events.add(np.array([index_of[uid]]), "payment_refunded", np.array([min(at, cap)]),
                       payment_meta(np.array([pid]), np.array([cents]), np.array([cur], object)))  # fmt: skip

    # Deactivations (at a random time of the day).
    deact_at = np.minimum(
        day_start + rng.integers(8 * HOUR_US, 22 * HOUR_US, size=deact_idx.size), cap
    )
    events.add(deact_idx, "account_deactivated", deact_at)

    if hooks:
        hooks.drop_failed_payment_events(events)
    activities = events.columns(rng, all_ids, all_ua, all_ip)

    # --- write everything in one transaction ------------------------------------------
    with conn.transaction():
        conn.execute("set local petpro.keep_updated_at = on")
        ins = summary.inserts
        ins["users"] = copy_columns(conn, "users", _render(new_cols))
        ins["user_addresses"] = copy_columns(conn, "user_addresses", _render(addresses))
        ins["pets"] = copy_columns(conn, "pets", _render(pet_cols))
        ins["bookings"] = copy_columns(conn, "bookings", _render(tables.bookings))
        pay = dict(tables.payments)
        ins["payments"] = copy_columns(conn, "payments", _render(pay))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into payments (id, booking_id, user_id, amount, currency, status, method, "
                "paid_at, created_at, updated_at) values (%s, %s, %s, %s / 100.0, %s, 'paid', "
                "'credit_card', to_timestamp(%s), to_timestamp(%s), to_timestamp(%s))",
                [(pid, bid, uid, cents, cur_, t / 1e6, t / 1e6, t / 1e6)
                 for pid, bid, uid, cents, cur_, t in new_payments],
            )  # fmt: skip
            ins["payments"] += len(new_payments)
            cur.executemany(
                "insert into payments (id, booking_id, user_id, amount, currency, status, method, "
                "created_at, updated_at) values (%s, %s, %s, %s / 100.0, %s, 'failed', "
                "'credit_card', to_timestamp(%s), to_timestamp(%s))",
                [(pid, bid, uid, cents, cur_, t / 1e6, t / 1e6)
                 for pid, bid, uid, cents, cur_, t in failed_payments],
            )  # fmt: skip
            ins["payments"] += len(failed_payments)
            ins["reviews"] = copy_columns(conn, "reviews", _render(tables.reviews))
            cur.executemany(
                "insert into reviews (id, user_id, booking_id, service_id, vendor_id, rating, "
                "status, created_at, updated_at) select %s, %s, b.id, b.service_id, s.vendor_id, "
                "%s, 'published', to_timestamp(%s), to_timestamp(%s) from bookings b "
                "join services s on s.id = b.service_id where b.id = %s",
                [(rid, uid, rating, t / 1e6, t / 1e6, bid) for rid, uid, bid, rating, t in reviews],
            )
            ins["reviews"] += len(reviews)
            ins["activities"] = copy_columns(conn, "activities", activities)
            upd = summary.updates
            cur.executemany(
                "update bookings set status = %s, updated_at = to_timestamp(%s), "
                "cancellation_reason = coalesce(%s, cancellation_reason) where id = %s",
                [(s, t / 1e6, r, b) for b, s, t, r in booking_updates],
            )
            upd["bookings"] = len(booking_updates)
            cur.executemany(
                "update payments set status = 'refunded', updated_at = to_timestamp(%s) "
                "where id = %s",
                [(min(t, cap) / 1e6, p) for p, t in refunds],
            )
            upd["payments"] = len(refunds)
            last_by_user: dict[str, int] = {}
            for uid, t in user_updates:
                last_by_user[uid] = max(last_by_user.get(uid, 0), t)
            cur.executemany(
                "update users set preferred_language = preferred_language, "
                "updated_at = to_timestamp(%s) where id = %s",
                [(t / 1e6, u) for u, t in sorted(last_by_user.items())],
            )
            cur.executemany(
                "update users set last_login = to_timestamp(%s), "
                "updated_at = greatest(updated_at, to_timestamp(%s)) where id = %s "
                "and (last_login is null or last_login < to_timestamp(%s))",
                [(t / 1e6, t / 1e6, ids[u] if u < m else new.ids[u - m], t / 1e6)
                 for u, t in sorted(login_last.items())],
            )  # fmt: skip
            cur.executemany(
                "update users set active = false, updated_at = to_timestamp(%s) where id = %s",
                [(int(t) / 1e6, ids[u]) for u, t in zip(deact_idx, deact_at, strict=True)],
            )
            upd["users"] = len(last_by_user) + len(login_last) + int(deact_idx.size)
            summary.deactivated_users = int(deact_idx.size)
            last_by_pet: dict[str, int] = {}
            for pid, t in pet_updates:
                last_by_pet[pid] = max(last_by_pet.get(pid, 0), t)
            cur.executemany(
                "update pets set weight_kg = weight_kg, updated_at = to_timestamp(%s) where id = %s",
                [(t / 1e6, p) for p, t in sorted(last_by_pet.items())],
            )
            upd["pets"] = len(last_by_pet)
            last_by_addr: dict[str, int] = {}
            for uid, t in addr_updates:
                last_by_addr[uid] = max(last_by_addr.get(uid, 0), t)
            cur.executemany(
                "update user_addresses set street = street, updated_at = to_timestamp(%s) "
                "where user_id = %s and is_default",
                [(t / 1e6, u) for u, t in sorted(last_by_addr.items())],
            )
            upd["user_addresses"] = len(last_by_addr)
            # Privacy erasure: the application hard-deletes the user; rows cascade.
            cur.executemany("delete from users where id = %s", [(ids[u],) for u in erase_idx])
            summary.deleted_users = int(erase_idx.size)
    return summary
