"""Daily partitions of the activity log, in the business time zone.

One partition per calendar day of ``PETPRO_TIMEZONE`` (the same day the lake uses for
``event_date=`` folders), starting at ``PETPRO_PARTITIONS_START``. ``end_offset=1`` makes the
current, still-growing day a valid partition too, so an intraday ``petpro refresh --date
today`` is possible; the nightly schedule targets the previous day. The pure helpers below
turn a partition window into the dates ingestion and dbt expect, and are unit-tested without
a Dagster instance; the last ones pick the partition ``petpro refresh`` runs.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dagster import DailyPartitionsDefinition

from petpro.settings import Settings


def activity_partitions(settings: Settings) -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(
        start_date=settings.partitions_start.isoformat(),
        timezone=settings.timezone,
        end_offset=1,
    )


def window_dates(start: datetime, end: datetime) -> tuple[date, date]:
    """Inclusive first and last day of a partition time window (``end`` is exclusive)."""
    return start.date(), (end - timedelta(days=1)).date()


def dbt_window(
    partition: tuple[date, date], touched: tuple[date, date] | None = None
) -> tuple[date, date]:
    """The activity-date window dbt rebuilds: the partition window widened to every day the
    ingestion of this run touched (late events, or a simulated day past the partition).

    dbt pads the start by ``late_days`` itself (macro ``incremental_window``).
    """
    first, last = partition
    if touched is not None:
        first, last = min(first, touched[0]), max(last, touched[1])
    return first, last


def previous_day(evaluation: datetime, tz_name: str) -> date:
    """The business day before the one ``evaluation`` falls in (nightly target partition)."""
    from zoneinfo import ZoneInfo

    local = evaluation.astimezone(ZoneInfo(tz_name))
    return local.date() - timedelta(days=1)


def today(settings: Settings) -> date:
    """Today in the business time zone: the partition an intraday micro-batch refreshes."""
    return datetime.now(settings.tz).date()


def yesterday(settings: Settings) -> date:
    return datetime.now(settings.tz).date() - timedelta(days=1)


def activity_day_range(settings: Settings) -> tuple[date, date] | None:
    """Business days of the oldest and newest activity in the source (None when empty)."""
    from sourcedb.server import connect, source_url

    with connect(source_url(settings)) as conn:
        lo, hi = conn.execute(
            'select min("timestamp"), max("timestamp") from activities'
        ).fetchone()
    if lo is None or hi is None:
        return None
    return lo.astimezone(settings.tz).date(), hi.astimezone(settings.tz).date()


def full_rebuild_partition(settings: Settings, last_key: str | None) -> str:
    """The partition a full rebuild runs under: the newest day holding activities (clipped to
    the partitions). The window is ignored in full mode, so one partition is enough; a range
    over every day would make Dagster record thousands of per-day events (minutes of
    overhead at 1,000 days) for no change in what is built."""
    days = activity_day_range(settings)
    last = date.fromisoformat(last_key) if last_key else yesterday(settings)
    if days is None:
        return last.isoformat()
    return max(min(days[1], last), settings.partitions_start).isoformat()
