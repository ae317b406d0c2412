"""Sessions and the activity events they produce.

A customer is active in sessions spread over their active lives (first life from signup to
churn, optionally a second one after dormancy) at their personal rate, with the local
hour-of-day and weekday rhythm. A session is a login, a few account actions (profile, pet,
address, notification and password edits) and sometimes a logout; some sessions also create a
booking (handled by ``generate_bookings``). ``Events`` collects activity rows from every
generator as parallel arrays and turns them into the ``activities`` table columns at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from petpro.vocabulary import ACTIVITY_TYPES
from sourcedb import clock
from sourcedb.clock import DAY_US, MINUTE_US, SECOND_US
from sourcedb.identifiers import uuids
from sourcedb.load import Timestamps
from sourcedb.reference import DESCRIPTIONS

TYPE_CODE = {t: i for i, t in enumerate(ACTIVITY_TYPES)}
_TYPE_NAMES = pa.array(ACTIVITY_TYPES, type=pa.string())
_DESCRIPTIONS = pa.array([DESCRIPTIONS[t] for t in ACTIVITY_TYPES], type=pa.string())

# What a person does in a session besides logging in (type, weight).
SESSION_ACTIONS: tuple[tuple[str, float], ...] = (
    ("pet_updated", 0.30),
    ("profile_update", 0.25),
    ("notification_settings_updated", 0.22),
    ("address_updated", 0.12),
    ("password_changed", 0.06),
    ("logout", 0.05),
)
PROFILE_CHANGES = np.array(
    [
        '{"changes": ["phone"]}',
        '{"changes": ["preferred_language"]}',
        '{"changes": ["last_name"]}',
        '{"changes": ["phone", "date_of_birth"]}',
        '{"changes": ["date_of_birth"]}',
    ],
    dtype=object,
)


@dataclass
class Events:
    """Activity rows under construction (parallel arrays, appended per generator)."""

    user: list[np.ndarray] = field(default_factory=list)  # index into the user arrays
    code: list[np.ndarray] = field(default_factory=list)
    ts: list[np.ndarray] = field(default_factory=list)
    meta: list[np.ndarray] = field(default_factory=list)  # object JSON strings
    slot: list[np.ndarray] = field(default_factory=list)  # device 0 or 1
    recorded: list[np.ndarray] = field(default_factory=list)  # created_at (usually = ts)

    def add(
        self,
        user: np.ndarray,
        kind: str | np.ndarray,
        ts: np.ndarray,
        meta: np.ndarray | None = None,
        slot: np.ndarray | None = None,
        recorded: np.ndarray | None = None,
    ) -> None:
        n = len(user)
        if n == 0:
            return
        codes = (
            np.full(n, TYPE_CODE[kind], dtype=np.int8)
            if isinstance(kind, str)
            else np.asarray(kind, dtype=np.int8)
        )
        self.user.append(np.asarray(user, dtype=np.int64))
        self.code.append(codes)
        self.ts.append(np.asarray(ts, dtype=np.int64))
        self.meta.append(np.full(n, "{}", dtype=object) if meta is None else meta)
        self.slot.append(np.zeros(n, dtype=np.int8) if slot is None else slot.astype(np.int8))
        self.recorded.append(np.asarray(ts if recorded is None else recorded, dtype=np.int64))

    def __len__(self) -> int:
        return int(sum(len(u) for u in self.user))

    def columns(
        self,
        rng: np.random.Generator,
        user_ids: np.ndarray,
        ua: np.ndarray,
        ip: np.ndarray,
    ) -> dict[str, object]:
        """The ``activities`` columns, rows in timestamp order, ids drawn in that order.

        ``ua`` and ``ip`` are (users, 2) object arrays: the text of each user's two devices.
        """
        user = np.concatenate(self.user)
        ts = np.concatenate(self.ts)
        code = np.concatenate(self.code)
        order = np.lexsort((code, user, ts))
        user, ts, code = user[order], ts[order], code[order]
        slot = np.concatenate(self.slot)[order]
        recorded = np.concatenate(self.recorded)[order]
        meta = np.concatenate(self.meta)[order]
        codes = pa.array(code.astype(np.int32))
        recorded_ts = Timestamps(recorded)
        return {
            "id": uuids(rng, user.size),
            "user_id": user_ids[user],
            "type": _TYPE_NAMES.take(codes),
            "description": _DESCRIPTIONS.take(codes),
            "metadata": meta,
            "ip_address": ip[user, slot],
            "user_agent": ua[user, slot],
            "timestamp": Timestamps(ts),
            "created_at": recorded_ts,
            "updated_at": recorded_ts,
        }

    def by_code(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(user, ts) of every event of one type collected so far."""
        user = np.concatenate(self.user)
        code = np.concatenate(self.code)
        ts = np.concatenate(self.ts)
        mask = code == TYPE_CODE[kind]
        return user[mask], ts[mask]


def sessions(
    rng: np.random.Generator,
    owners: np.ndarray,
    start_us: np.ndarray,
    end_us: np.ndarray,
    rate: np.ndarray,
    tz: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Session start times for each owner's span [start, end) at ``rate`` sessions/day.

    Returns (owner, ts) sorted by owner then time.
    """
    span_days = np.maximum(end_us - start_us, 0) / DAY_US
    count = rng.poisson(rate * span_days)
    owner = np.repeat(owners, count)
    s = np.repeat(start_us, count)
    e = np.repeat(end_us, count)
    keep, ts = clock.rhythm_times(rng, s, e, tz)
    owner = owner[keep]
    order = np.lexsort((ts, owner))
    return owner[order], ts[order]


@dataclass
class SessionActions:
    """Events of sessions other than bookings, plus per-type pointers for table updates."""

    login_user: np.ndarray
    login_ts: np.ndarray
    kind: np.ndarray  # type code of each action
    user: np.ndarray
    ts: np.ndarray
    slot: np.ndarray


def session_events(
    rng: np.random.Generator,
    owner: np.ndarray,
    ts: np.ndarray,
    *,
    actions_mean: float = 0.8,
    logout_p: float = 0.5,
    allowed: tuple[str, ...] | None = None,
) -> tuple[SessionActions, np.ndarray]:
    """Login + actions + optional logout for each session; returns actions and device slots."""
    n = owner.size
    slot = (rng.random(n) < 0.25).astype(np.int8)
    k = rng.poisson(actions_mean, size=n)
    a_owner = np.repeat(owner, k)
    a_session = np.repeat(np.arange(n), k)
    # Actions follow each other a minute or two apart.
    gaps = rng.exponential(100.0, size=a_owner.size) * SECOND_US + 20 * SECOND_US
    first_of = np.repeat(np.cumsum(k) - k, k)
    cum = np.cumsum(gaps)
    offset = cum - np.where(first_of > 0, cum[np.maximum(first_of - 1, 0)], 0)
    a_ts = ts[a_session] + offset.astype(np.int64)
    names = [a for a, _ in SESSION_ACTIONS if allowed is None or a in allowed]
    weights = np.array([w for a, w in SESSION_ACTIONS if a in names])
    codes = np.array([TYPE_CODE[a] for a in names])
    a_kind = codes[rng.choice(len(names), size=a_owner.size, p=weights / weights.sum())]
    # A session ends with an explicit logout a few minutes after its last action sometimes.
    last = np.zeros(n, dtype=np.int64)
    if a_owner.size:
        np.maximum.at(last, a_session, offset.astype(np.int64))
    out = rng.random(n) < logout_p
    lo_ts = ts + last + (rng.exponential(240.0, size=n) * SECOND_US).astype(np.int64) + MINUTE_US
    kinds = np.concatenate([a_kind, np.full(int(out.sum()), TYPE_CODE["logout"])])
    users = np.concatenate([a_owner, owner[out]])
    times = np.concatenate([a_ts, lo_ts[out]])
    slots = np.concatenate([slot[a_session], slot[out]])
    return SessionActions(owner, ts, kinds, users, times, slots), slot


def late_recorded(
    rng: np.random.Generator, ts: np.ndarray, share: float, cap_us: int
) -> np.ndarray:
    """created_at for events: equal to ``ts`` except a ``share`` synced 1-3 days late."""
    late = rng.random(ts.size) < share
    delay = rng.integers(1 * DAY_US, 3 * DAY_US, size=ts.size)
    rec = np.where(late, ts + delay, ts)
    return np.where(rec > cap_us, ts, rec)
