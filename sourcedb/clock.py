"""Time arithmetic for the generators: microsecond epochs, local days and daily rhythms.

Generated timestamps are int64 microseconds since the Unix epoch (UTC), which numpy handles
vectorised. Daily patterns (hour of day, weekday) are laid out in the business time zone and
converted to UTC with pandas, so "people book in the evening" holds in local time whatever
``PETPRO_TIMEZONE`` is.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from sourcedb.reference import HOUR_WEIGHTS, WEEKDAY_WEIGHTS

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US
EPOCH = date(1970, 1, 1)

_HOUR_P = np.asarray(HOUR_WEIGHTS) / np.sum(HOUR_WEIGHTS)
_WEEKDAY_ACCEPT = np.asarray(WEEKDAY_WEIGHTS) / np.max(WEEKDAY_WEIGHTS)


def day_number(d: date) -> int:
    """Days since 1970-01-01 (the local calendar day as an integer)."""
    return (d - EPOCH).days


def weekday_of(day_numbers: np.ndarray) -> np.ndarray:
    """ISO weekday index 0=Monday..6=Sunday of day numbers (1970-01-01 was a Thursday)."""
    return (day_numbers + 3) % 7


def local_to_utc(local_us: np.ndarray, tz: str) -> np.ndarray:
    """Wall-clock microseconds in ``tz`` → UTC microseconds (DST gaps shift forward)."""
    local_us = np.asarray(local_us, dtype=np.int64)
    if tz == "UTC" or local_us.size == 0:
        return local_us.copy()
    idx = pd.DatetimeIndex(local_us.astype("datetime64[us]"))
    aware = idx.tz_localize(
        tz, ambiguous=np.zeros(local_us.size, dtype=bool), nonexistent="shift_forward"
    )
    return np.asarray(aware.tz_convert("UTC").as_unit("us").asi8, dtype=np.int64)


def utc_to_local(utc_us: np.ndarray, tz: str) -> np.ndarray:
    """UTC microseconds → wall-clock microseconds in ``tz``."""
    utc_us = np.asarray(utc_us, dtype=np.int64)
    if tz == "UTC" or utc_us.size == 0:
        return utc_us.copy()
    idx = pd.DatetimeIndex(utc_us.astype("datetime64[us]")).tz_localize("UTC")
    return np.asarray(idx.tz_convert(tz).tz_localize(None).as_unit("us").asi8, dtype=np.int64)


def local_day_start_utc(d: date, tz: str) -> int:
    """UTC microseconds of local midnight starting day ``d``."""
    return int(local_to_utc(np.array([day_number(d) * DAY_US]), tz)[0])


def to_us(ts: datetime) -> int:
    return int((ts - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def now_us() -> int:
    return to_us(datetime.now(UTC))


def today_in(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def sample_time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microseconds after local midnight following the hour-of-day activity curve."""
    hours = rng.choice(24, size=n, p=_HOUR_P)
    return hours * HOUR_US + rng.integers(0, HOUR_US, size=n)


def weekday_keep(rng: np.random.Generator, local_days: np.ndarray) -> np.ndarray:
    """Thinning mask that imposes the weekday pattern on uniformly spread events."""
    return rng.random(local_days.size) < _WEEKDAY_ACCEPT[weekday_of(local_days)]


def rhythm_times(
    rng: np.random.Generator, start_us: np.ndarray, end_us: np.ndarray, tz: str
) -> tuple[np.ndarray, np.ndarray]:
    """One event time per (start, end) span with the local daily and weekly rhythm.

    A uniform point of each span picks the day; the time within the day follows the hour
    curve; days are thinned by weekday. Returns (kept mask, UTC times of the kept rows).
    """
    n = start_us.size
    raw = start_us + (rng.random(n) * (end_us - start_us)).astype(np.int64)
    local_day = utc_to_local(raw, tz) // DAY_US
    local = local_day * DAY_US + sample_time_of_day(rng, n)
    ts = local_to_utc(local, tz)
    keep = weekday_keep(rng, local_day) & (ts < end_us)
    ts = np.maximum(ts, start_us)
    return keep, ts[keep]
