"""Bookings, their payments and reviews, and the activities that record them.

A booking starts in a session: the customer picks a service (by the marketplace's rules in
:mod:`sourcedb.booking_choice`: species, city, follow-up categories, returning to services
they liked; priced in the service's currency) for an appointment a few days ahead. Its status is whatever the
booking would have reached by the as-of time: pending or confirmed while the appointment is
ahead, in progress during it, then completed or no-show; some are cancelled on the way.
Payments are taken up front for some bookings and after the service for the rest; some fail,
some are refunded (always when a prepaid booking is cancelled). Some completed bookings get a
review. Every ``booking_*``, ``payment_*`` and ``review_submitted`` activity carries the ids,
amount and currency of its row, as the application writes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sourcedb.booking_choice import ratings
from sourcedb.clock import DAY_US, HOUR_US, MINUTE_US
from sourcedb.generate_activity import Events
from sourcedb.generate_people import CATEGORIES, CATEGORY_WEIGHTS, Services
from sourcedb.identifiers import uuids
from sourcedb.load import NULL_TS, money_text
from sourcedb.reference import CANCELLATION_REASONS

CANCEL_P = 0.12
NO_SHOW_P = 0.05
PREPAID_P = 0.4
FAIL_P = 0.03
REFUND_P = 0.04
REVIEW_P = 0.35


@dataclass
class BookingTables:
    bookings: dict[str, object]
    payments: dict[str, object]
    reviews: dict[str, object]


def _json(parts: list[object]) -> np.ndarray:
    """Concatenate object-string arrays and literals into JSON strings (vectorised)."""
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return np.asarray(out, dtype=object)


def booking_meta(booking_ids: np.ndarray, category: np.ndarray) -> np.ndarray:
    return _json(['{"bookingId": "', booking_ids.astype(object), '", "serviceType": "',
                  category.astype(object), '"}'])  # fmt: skip


def payment_meta(payment_ids: np.ndarray, cents: np.ndarray, currency: np.ndarray) -> np.ndarray:
    amount = np.asarray(money_text(cents).to_pylist(), dtype=object)
    return _json(['{"paymentId": "', payment_ids.astype(object), '", "amount": ', amount,
                  ', "currency": "', currency.astype(object), '"}'])  # fmt: skip


def pick_services(rng: np.random.Generator, country: np.ndarray, services: Services) -> np.ndarray:
    """A service index per booking, in the customer's country, category by popularity."""
    cat_p = np.array([CATEGORY_WEIGHTS[c] for c in CATEGORIES])
    cat = rng.choice(len(CATEGORIES), size=country.size, p=cat_p)
    out = np.empty(country.size, dtype=np.int64)
    u = rng.random(country.size)
    for (ci, k), idx in services.by_market.items():
        mask = (country == ci) & (cat == k)
        if mask.any():
            out[mask] = idx[(u[mask] * idx.size).astype(np.int64)]
    return out


def make_bookings(
    rng: np.random.Generator,
    *,
    user: np.ndarray,
    user_ids: np.ndarray,
    created: np.ndarray,
    slot: np.ndarray,
    country: np.ndarray,
    pet_id: np.ndarray,
    services: Services,
    asof_us: int,
    events: Events,
    chosen: tuple[np.ndarray, np.ndarray] | None = None,
) -> BookingTables:
    """Bookings made at ``created`` by ``user`` (indexes into ``user_ids``), as of ``asof_us``.

    ``chosen`` is (service index, affinity) per booking from :mod:`sourcedb.booking_choice`;
    without it services are picked by category popularity in the customer's country and
    ratings are drawn independently of the service.
    """
    n = user.size
    svc = pick_services(rng, country, services) if chosen is None else chosen[0]
    cat = services.category[svc]
    ids = uuids(rng, n)
    # Appointment: a few days ahead, in business hours (UTC-agnostic offset is fine here).
    lead_days = np.floor(rng.exponential(4.0, size=n)).astype(np.int64) + 1
    start = (created // DAY_US + lead_days) * DAY_US + rng.integers(8, 18, size=n) * HOUR_US
    start = np.maximum(start, created + 2 * HOUR_US)
    duration = services.duration_min[svc].astype(np.int64) * MINUTE_US
    end = start + duration
    cents = services.price_cents[svc]
    currency = services.currency[svc]

    confirm_at = created + np.minimum(
        (rng.exponential(3.0, size=n) * HOUR_US).astype(np.int64), (start - created) // 2
    ) + MINUTE_US  # fmt: skip
    cancel = rng.random(n) < CANCEL_P
    # A cancellation falls anywhere before the appointment; one that falls after the as-of
    # time has not happened yet (the booking is still open, and the day simulator may cancel
    # it later). Drawing it before min(start, as-of) instead piled every future cancellation
    # of the last days onto the as-of day: a false cancellation spike on the newest day.
    cancel_at = created + (rng.random(n) * (start - created)).astype(np.int64)
    cancel &= cancel_at <= asof_us
    confirmed = confirm_at <= asof_us
    no_show = rng.random(n) < NO_SHOW_P
    status = np.where(
        cancel,
        "cancelled",
        np.where(
            ~confirmed,
            "pending",
            np.where(
                start > asof_us,
                np.where(rng.random(n) < 0.15, "pending", "confirmed"),
                np.where(end > asof_us, "in_progress", np.where(no_show, "no_show", "completed")),
            ),
        ),
    ).astype(object)
    was_confirmed = confirmed & (status != "pending") & ~(cancel & (cancel_at < confirm_at))
    changed = np.where(
        status == "cancelled",
        cancel_at,
        np.where(
            status == "pending",
            created,
            np.where(
                status == "confirmed",
                confirm_at,
                np.where(status == "in_progress", start, end),
            ),
        ),
    )
    reason = np.full(n, None, dtype=object)
    reason[cancel] = rng.choice(
        np.array(CANCELLATION_REASONS, dtype=object), size=int(cancel.sum())
    )
    bookings = {
        "id": ids,
        "user_id": user_ids[user],
        "service_id": services.ids[svc],
        "pet_id": pet_id,
        "start_time": start,
        "end_time": end,
        "status": status,
        "amount": cents,
        "currency": currency,
        "cancellation_reason": reason,
        "created_at": created,
        "updated_at": changed,
    }
    cat_names = np.array(CATEGORIES, dtype=object)[cat]
    meta = booking_meta(ids, cat_names)
    events.add(user, "booking_created", created, meta, slot)
    events.add(user[was_confirmed], "booking_updated", confirm_at[was_confirmed],
               meta[was_confirmed], slot[was_confirmed])  # fmt: skip
    events.add(user[cancel], "booking_cancelled", cancel_at[cancel], meta[cancel], slot[cancel])

    # Payments: prepaid at confirmation, otherwise after the service.
    prepaid = was_confirmed & (rng.random(n) < PREPAID_P)
    postpaid = ~prepaid & (status == "completed")
    has_pay = prepaid | postpaid
    p_b = np.flatnonzero(has_pay)
    m = p_b.size
    p_created = np.where(prepaid[p_b], confirm_at[p_b], end[p_b] + MINUTE_US)
    failed = rng.random(m) < FAIL_P
    refund_at = np.full(m, NULL_TS)
    cancelled_prepaid = status[p_b] == "cancelled"
    refund_at[cancelled_prepaid] = cancel_at[p_b][cancelled_prepaid] + 10 * MINUTE_US
    later = (status[p_b] == "completed") & (rng.random(m) < REFUND_P)
    refund_at[later] = end[p_b][later] + rng.integers(1, 6, size=int(later.sum())) * DAY_US
    refund_at[(refund_at > asof_us) | failed] = NULL_TS
    # A payment created after the as-of time does not exist yet.
    exists = p_created <= asof_us
    p_b, p_created, failed, refund_at = (
        p_b[exists],
        p_created[exists],
        failed[exists],
        refund_at[exists],
    )
    m = p_b.size
    p_status = np.where(failed, "failed", np.where(refund_at != NULL_TS, "refunded", "paid"))
    paid_at = np.where(failed, NULL_TS, p_created + rng.integers(2, 60, size=m) * 1_000_000)
    p_updated = np.where(refund_at != NULL_TS, refund_at, np.where(failed, p_created, paid_at))
    p_ids = uuids(rng, m)
    p_user = user[p_b]
    payments = {
        "id": p_ids,
        "booking_id": ids[p_b],
        "user_id": user_ids[p_user],
        "amount": cents[p_b],
        "currency": currency[p_b],
        "status": p_status.astype(object),
        "method": rng.choice(
            np.array(["credit_card", "paypal", "bank_account"], dtype=object),
            size=m,
            p=[0.72, 0.2, 0.08],
        ),
        "paid_at": paid_at,
        "created_at": p_created,
        "updated_at": p_updated,
    }
    pmeta = payment_meta(p_ids, cents[p_b], currency[p_b])
    ok = ~failed
    events.add(p_user[ok], "payment_made", paid_at[ok], pmeta[ok], slot[p_b][ok])
    ref = refund_at != NULL_TS
    events.add(p_user[ref], "payment_refunded", refund_at[ref], pmeta[ref], slot[p_b][ref])

    # Reviews after some completed bookings.
    r_b = np.flatnonzero((status == "completed") & (rng.random(n) < REVIEW_P))
    r_at = end[r_b] + (rng.exponential(1.0, size=r_b.size) * DAY_US).astype(np.int64) + HOUR_US
    keep = r_at <= asof_us
    r_b, r_at = r_b[keep], r_at[keep]
    k = r_b.size
    if chosen is None:
        rating = rng.choice([1, 2, 3, 4, 5], size=k, p=[0.04, 0.05, 0.11, 0.3, 0.5])
    else:  # customers rate the services they like well (and return to them)
        rating = ratings(rng, chosen[1][r_b])
    r_status = rng.choice(np.array(["published", "pending", "hidden"], dtype=object), size=k,
                          p=[0.86, 0.1, 0.04])  # fmt: skip
    r_ids = uuids(rng, k)
    reviews = {
        "id": r_ids,
        "user_id": user_ids[user[r_b]],
        "booking_id": ids[r_b],
        "service_id": services.ids[svc[r_b]],
        "vendor_id": services.columns["vendor_id"][svc[r_b]],  # type: ignore[index]
        "rating": rating,
        "status": r_status,
        "created_at": r_at,
        "updated_at": r_at,
    }
    rmeta = _json(['{"reviewId": "', r_ids.astype(object),
                   '", "targetType": "service", "targetId": "',
                   services.ids[svc[r_b]].astype(object), '", "rating": ',
                   rating.astype(str).astype(object), "}"])  # fmt: skip
    events.add(user[r_b], "review_submitted", r_at, rmeta, slot[r_b])
    return BookingTables(bookings, payments, reviews)
