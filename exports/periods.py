"""The periods a stakeholder report covers: its edition's period and the two it is compared with.

An edition names a period grain: ``monthly`` a calendar month, ``weekly`` an ISO week (Monday to
Sunday), both in the business time zone like every period of the marts. The edition covers the
*last complete* period as of a date — the latest one whose last day is on or before it; by
default that date is the data's high-water mark, so a period counts once the nightly refresh
has processed its last day. Each period is compared with the previous one and with the same
period a year earlier: the same calendar month, or for a week the one 52 weeks (364 days)
before, which starts on a Monday too and holds the same weekdays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from exports.errors import ExportError

EDITIONS: tuple[str, ...] = ("monthly", "weekly")
GRAIN_OF_EDITION: dict[str, str] = {"monthly": "month", "weekly": "week"}


class UnknownEditionError(ExportError):
    """An edition name that is not ``monthly`` or ``weekly``."""


def resolve_editions(names: list[str] | tuple[str, ...] | None) -> list[str]:
    """The editions asked for, in canonical order (both when none is named)."""
    if not names:
        return list(EDITIONS)
    asked = {n.strip().lower() for n in names}
    unknown = sorted(asked - set(EDITIONS))
    if unknown:
        raise UnknownEditionError(
            f"unknown edition {', '.join(repr(u) for u in unknown)}: use monthly or weekly"
        )
    return [e for e in EDITIONS if e in asked]


# Spelled out rather than strftime('%b'), which follows the process locale.
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def month_name(day: date, *, short: bool = True) -> str:
    name = MONTH_NAMES[day.month - 1]
    return name[:3] if short else name


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """A month (``grain='month'``) or an ISO week (``grain='week'``); ``end`` is its last day."""

    grain: str
    start: date

    @property
    def end(self) -> date:
        if self.grain == "month":
            return _add_months(self.start, 1) - timedelta(days=1)
        return self.start + timedelta(days=6)

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` periods later (earlier when negative)."""
        if self.grain == "month":
            return Period("month", _add_months(self.start, steps))
        return Period("week", self.start + timedelta(weeks=steps))

    def previous(self) -> Period:
        return self.shifted(-1)

    def year_earlier(self) -> Period:
        return self.shifted(-12 if self.grain == "month" else -52)

    @property
    def label(self) -> str:
        """``May 2024`` or ``Week 21, 2024``."""
        if self.grain == "month":
            return f"{month_name(self.start)} {self.start.year}"
        year, week, _ = self.start.isocalendar()
        return f"Week {week}, {year}"

    @property
    def long_label(self) -> str:
        """``May 2024 (1 May – 31 May 2024)``-style title with the exact days."""
        first, last = self.start, self.end
        days = f"{first.day} {month_name(first)} – {last.day} {month_name(last)} {last.year}"
        if self.grain == "month":
            return f"{month_name(first, short=False)} {first.year} ({days})"
        return f"{self.label} ({days})"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_containing(grain: str, day: date) -> Period:
    if grain == "month":
        return Period("month", day.replace(day=1))
    return Period("week", day - timedelta(days=day.weekday()))


def last_complete(grain: str, as_of: date) -> Period:
    """The latest period of ``grain`` whose last day is on or before ``as_of``."""
    current = period_containing(grain, as_of)
    return current if current.end <= as_of else current.previous()
