"""Validation of API query parameters, and the fixed allow-lists SQL may mention.

Every value that reaches SQL is either bound as a parameter or picked from an allow-list
defined here (intervals, activity types, segment dimensions, statuses, categories); nothing
from a request is ever concatenated into SQL text. Bad input — unparsable, reversed or
out-of-calendar dates, ranges over ten years, unknown intervals, activity types, segments,
values or parameters — raises :class:`InvalidRequest`, which the app turns into a 422 with
a one-line message. A :class:`FilterSpec` declares what one v2 endpoint accepts: it parses
the request, documents the parameters in the OpenAPI schema and describes the endpoint in
``GET /v2``, from the same declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import QueryParams

from petpro.vocabulary import ACTIVITY_TYPES

INTERVALS = ("day", "week", "month")
LIFECYCLE_INTERVALS = ("week", "month")
# Demographic dimensions = segment filters (rows of mart_customer_segments).
SEGMENTS: tuple[str, ...] = ("age_group", "gender", "country", "city", "device_type", "pet_species")
DIMENSIONS = SEGMENTS
STATUSES = ("new", "returning", "resurrecting", "dormant")
SERVICE_CATEGORIES = (
    "grooming",
    "veterinary",
    "boarding",
    "daycare",
    "training",
    "walking",
    "other",
)
MAX_RANGE_DAYS = 3653  # ten years
SHOWN_NAMES = 5  # unknown names/values quoted in a message, so it stays one short line


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
    # Endpoint-specific options (FilterSpec.options), already validated.
    statuses: list[str] = field(default_factory=list)
    dimension: str | None = None
    currency: str | None = None
    service_categories: list[str] = field(default_factory=list)
    max_months: int = 24

    @property
    def by_customer(self) -> bool:
        """Whether the answer must be counted from the customer-level marts."""
        return bool(self.segments or self.activity_types)

    def as_meta(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "interval": self.interval,
            "activity_types": self.activity_types,
            "segments": self.segments,
        }


def _listed(values: list[str]) -> str:
    shown_values = [shown(v, 40) for v in values[:SHOWN_NAMES]]
    more = f" and {len(values) - SHOWN_NAMES} more" if len(values) > SHOWN_NAMES else ""
    return "[" + ", ".join(shown_values) + "]" + more


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
                f"unknown parameter(s) {_listed(unknown)}; this endpoint accepts {sorted(allowed)}"
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
        raise InvalidRequest(
            f"unknown activity type(s) {_listed(bad)}; known: {list(ACTIVITY_TYPES)}"
        )
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
        raise InvalidRequest(f"{name}={shown(str(number))} is outside {lo}..{hi}")
    return number


def parse_choices(params: QueryParams, name: str, known: tuple[str, ...], what: str) -> list[str]:
    """A repeatable parameter whose values must all be in ``known``."""
    values = multi(params, name)
    bad = [v for v in values if v not in known]
    if bad:
        raise InvalidRequest(f"unknown {what} {_listed(bad)}; known: {list(known)}")
    return values


COMMON = ("start", "end", "interval", "activity_type", *SEGMENTS)
OPTION_DOCS: dict[str, tuple[str, bool]] = {  # name -> (description, repeatable)
    "status": (f"lifecycle statuses to keep, any of {list(STATUSES)}", True),
    "dimension": (f"one demographic dimension, one of {list(DIMENSIONS)}", False),
    "currency": ("ISO currency code, e.g. USD (amounts are never summed across currencies)", False),
    "service_category": (f"service categories to keep, any of {list(SERVICE_CATEGORIES)}", True),
    "max_months": ("months since signup to include, 0..240 (default 24)", False),
}


@dataclass(frozen=True)
class FilterSpec:
    """What one v2 endpoint accepts, and the mart it answers from.

    ``intervals`` are the accepted ``interval`` values (every v2 endpoint takes the common
    parameter names; one that has no use for a filter rejects it with a message), and
    ``listed_intervals`` what ``GET /v2`` advertises. ``options`` are extra parameters.
    """

    mart: str
    intervals: tuple[str, ...] = INTERVALS
    default_interval: str = "day"
    listed_intervals: tuple[str, ...] | None = INTERVALS
    activity_types: bool = True
    segments: bool = True
    dates: bool = True
    options: tuple[str, ...] = ()

    def parse(self, params: QueryParams, tz: ZoneInfo) -> Filters:
        f = parse_filters(
            params,
            tz,
            start_names=("start",),
            end_names=("end",),
            allowed=(*COMMON, *self.options),
            intervals=self.intervals,
            default_interval=self.default_interval,
            segments_allowed=self.segments,
            activity_types_allowed=self.activity_types,
        )
        if not self.dates and (f.start or f.end):
            raise InvalidRequest(f"{self.mart} covers the full history; drop start/end")
        if "status" in self.options:
            f.statuses = parse_choices(params, "status", STATUSES, "status(es)")
        if "service_category" in self.options:
            f.service_categories = parse_choices(
                params, "service_category", SERVICE_CATEGORIES, "service_category"
            )
        if "dimension" in self.options:
            dimension = params.get("dimension")
            if dimension is not None and dimension not in DIMENSIONS:
                raise InvalidRequest(
                    f"dimension={shown(dimension)} is not one of {list(DIMENSIONS)}"
                )
            f.dimension = dimension
        if "currency" in self.options:
            f.currency = params.get("currency") or None
        if "max_months" in self.options:
            f.max_months = parse_int(params, "max_months", 24, 0, 240)
        return f

    def index_entry(self, path: str) -> dict[str, Any]:
        """This endpoint as ``GET /v2`` lists it."""
        entry: dict[str, Any] = {
            "path": path,
            "mart": self.mart,
            "interval": list(self.listed_intervals) if self.listed_intervals else None,
            "activity_type": self.activity_types,
            "segments": self.segments,
        }
        if self.options:
            entry["extra"] = list(self.options)
        return entry

    def openapi(self) -> dict[str, Any]:
        """``openapi_extra`` of the route: the parameters, documented from this spec."""

        def param(name: str, description: str, repeatable: bool = False) -> dict[str, Any]:
            schema: dict[str, Any] = {"type": "string"}
            if repeatable:
                schema = {"type": "array", "items": {"type": "string"}}
            return {
                "name": name,
                "in": "query",
                "required": False,
                "description": description,
                "schema": schema,
                **({"explode": True} if repeatable else {}),
            }

        params = []
        if self.dates:
            params += [
                param("start", "first day, YYYY-MM-DD or ISO timestamp (business time zone)"),
                param("end", "last day, inclusive; at most ten years after start"),
            ]
        if self.listed_intervals:
            params.append(param("interval", f"one of {list(self.intervals)}"))
        if self.activity_types:
            params.append(
                param("activity_type", "activity types (OR), repeat or comma-separate", True)
            )
        if self.segments:
            params += [
                param(
                    name, f"{name} segments (OR within, AND across); repeat or comma-separate", True
                )
                for name in SEGMENTS
            ]
        params += [param(name, *OPTION_DOCS[name]) for name in self.options]
        return {"parameters": params}
