"""Validation of API query parameters, and the fixed allow-lists SQL may mention.

Every value that reaches SQL is either bound as a parameter or picked from an allow-list
defined here (intervals, activity types, segment columns, demographic dimensions); nothing
from a request is ever concatenated into SQL text. Bad input — unparsable or reversed
dates, ranges over ten years, unknown intervals, activity types, segments or parameters —
raises :class:`InvalidRequest`, which the app turns into a 422 with a one-line message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from petpro.vocabulary import ACTIVITY_TYPES

INTERVALS = ("day", "week", "month")
LIFECYCLE_INTERVALS = ("week", "month")
# Engagement types of METRICS.md (the dbt variable engagement_activity_types).
ENGAGEMENT_TYPES = ("booking_created", "payment_made")
# Demographic segment filters -> column of mart_customer_profile (allow-list for SQL text).
SEGMENTS: dict[str, str] = {
    "age_group": "age_group",
    "gender": "gender",
    "country": "country",
    "city": "city",
    "device_type": "device_type",
    "pet_species": "pet_species",
}
DIMENSIONS = tuple(SEGMENTS)
MAX_RANGE_DAYS = 3653  # ten years


class InvalidRequest(ValueError):
    """A request parameter is unusable; the message says which and what is accepted."""


def parse_day(name: str, value: str, tz: ZoneInfo) -> date:
    """``YYYY-MM-DD``, or an ISO timestamp (what JavaScript's toISOString sends), as a business day."""
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(
            f"{name}={shown(value)} is not a date; use YYYY-MM-DD (or an ISO timestamp)"
        ) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(tz)
        except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is in year 0 once converted
            raise InvalidRequest(
                f"{name}={shown(value)} falls outside the calendar (years 1..9999) in the "
                f"business time zone {tz.key}; use a date between 0001-01-02 and 9999-12-30"
            ) from None
    return moment.date()


def shown(value: str, limit: int = 60) -> str:
    """``value`` as it may appear in a one-line error message: repr'd and shortened."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 5]}…' ({len(value)} chars)"


def multi(params: QueryParams, name: str) -> list[str]:
    """All values of a repeatable parameter; each may also be comma-separated."""
    values: list[str] = []
    for raw in params.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


@dataclass
class Filters:
    """Parsed, validated filters of one request."""

    start: date | None = None
    end: date | None = None
    interval: str = "day"
    activity_types: list[str] = field(default_factory=list)
    segments: dict[str, list[str]] = field(default_factory=dict)

    def as_meta(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "interval": self.interval,
            "activity_types": self.activity_types,
            "segments": self.segments,
        }


def parse_filters(
    params: QueryParams,
    tz: ZoneInfo,
    *,
    start_names: tuple[str, ...] = ("start", "startDate"),
    end_names: tuple[str, ...] = ("end", "endDate"),
    interval_names: tuple[str, ...] = ("interval",),
    intervals: tuple[str, ...] = INTERVALS,
    default_interval: str = "day",
    allowed: tuple[str, ...] | None = None,
    segments_allowed: bool = True,
    activity_types_allowed: bool = True,
) -> Filters:
    """Parse the common filters; ``allowed`` (when given) lists every accepted parameter name."""
    if allowed is not None:
        unknown = sorted(set(params.keys()) - set(allowed))
        if unknown:
            raise InvalidRequest(
                f"unknown parameter(s) {unknown}; this endpoint accepts {sorted(allowed)}"
            )
    f = Filters(interval=default_interval)
    for name in start_names:
        if params.get(name):
            f.start = parse_day(name, params[name], tz)
    for name in end_names:
        if params.get(name):
            f.end = parse_day(name, params[name], tz)
    if f.start and f.end:
        if f.end < f.start:
            raise InvalidRequest(
                f"the date range is reversed: end {f.end} is before start {f.start}"
            )
        if (f.end - f.start) > timedelta(days=MAX_RANGE_DAYS):
            raise InvalidRequest(
                f"the date range {f.start}..{f.end} is longer than ten years; ask for less"
            )
    for name in interval_names:
        value = params.get(name)
        if value is not None:
            if value not in intervals:
                raise InvalidRequest(f"{name}={shown(value)} is not one of {list(intervals)}")
            f.interval = value
    types = multi(params, "activity_type")
    if types and not activity_types_allowed:
        raise InvalidRequest("activity_type filters are not available on this endpoint")
    bad = [t for t in types if t not in ACTIVITY_TYPES]
    if bad:
        raise InvalidRequest(f"unknown activity type(s) {bad}; known: {list(ACTIVITY_TYPES)}")
    f.activity_types = list(dict.fromkeys(types))
    for name in SEGMENTS:
        values = multi(params, name)
        if values:
            f.segments[name] = list(dict.fromkeys(values))
    if f.segments and not segments_allowed:
        raise InvalidRequest(
            f"demographic filters {sorted(f.segments)} are not available on this endpoint: its mart has "
            "no customer-level grain (see GET /v2 for which endpoints take them)"
        )
    return f


def parse_int(params: QueryParams, name: str, default: int, lo: int, hi: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{name}={shown(value)} is not an integer") from None
    if not lo <= number <= hi:
        raise InvalidRequest(f"{name}={number} is outside {lo}..{hi}")
    return number
