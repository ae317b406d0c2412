"""The test window of nightly runs (``macros/tests/test_window.sql``), on a real lake and dbt.

A nightly refresh passes ``test_window: true`` with its ``min_date``: the tests of the
activity log and of the delete+insert facts then read only the days the run rebuilt (those of
the active periods, every week and month it rebuilt). These tests prove both sides of that
trade: a defect *outside* the window is found by a run without the window (full rebuild,
``dbt build``) and not by the nightly one (the published activity log's too); a defect *inside* it — for periods, in a month
that starts before the window — is found by the nightly one; and a relationships test is
never windowed (an erasure can orphan an old row).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.dbt.conftest import ingest, world_settings

pytestmark = pytest.mark.slow

UNIQUE_ID = "unique_stg_petpro__activities_activity_id"
RELATIONSHIPS = (
    "relationships_int_customer_daily_activity_customer_id__customer_id__ref_int_customers_"
)


def _partition(settings: Any, day: date) -> Path:
    return settings.raw_dir / "activities" / f"event_date={day.isoformat()}" / "data.parquet"


def _duplicate_first_row(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), path)


def _passes(settings: Any, select: str, dbt_vars: dict[str, Any] | None) -> bool:
    from warehouse.dbt import DbtError, run_dbt

    try:
        run_dbt(settings, ["test", "--select", select], vars=dbt_vars, capture=True)
    except DbtError:
        return False
    return True


def _built(make_source: Any, tmp_path: Path, seed: int, models: str) -> Any:
    """A seeded source ingested into a new home, and ``models`` (a dbt selector) built."""
    from warehouse.dbt import run_dbt

    settings = world_settings(tmp_path / "home", make_source("UTC", seed=seed), "UTC")
    ingest(settings)
    run_dbt(settings, ["run", "--select", models], capture=True)
    return settings


def test_nightly_tests_check_the_window_and_full_runs_everything(
    make_source: Any, tmp_path: Path
) -> None:
    settings = _built(make_source, tmp_path, 11, "+int_customer_daily_activity")
    days = sorted(
        date.fromisoformat(p.name.removeprefix("event_date="))
        for p in (settings.raw_dir / "activities").iterdir()
        if p.name.startswith("event_date=")
    )
    last = days[-1]
    nightly = {"min_date": last.isoformat(), "late_days": 3, "test_window": True}
    old = next(d for d in days if d < last - timedelta(days=10))

    assert _passes(settings, UNIQUE_ID, None), "the seeded lake must pass to begin with"
    _duplicate_first_row(_partition(settings, old))
    assert not _passes(settings, UNIQUE_ID, None), "a full test run must find the old duplicate"
    assert _passes(settings, UNIQUE_ID, nightly), "the nightly window must not read old days"
    assert not _passes(settings, UNIQUE_ID, {**nightly, "test_window": False})

    inside = next(d for d in reversed(days) if d >= last - timedelta(days=3))
    _duplicate_first_row(_partition(settings, inside))
    assert not _passes(settings, UNIQUE_ID, nightly), "a duplicate in the window must fail"


def test_relationships_tests_are_never_windowed(make_source: Any, tmp_path: Path) -> None:
    settings = _built(make_source, tmp_path, 12, "+int_customer_daily_activity")
    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        (first, last) = con.execute(
            "select min(activity_date), max(activity_date) from int_customer_daily_activity"
        ).fetchone()
    nightly = {"min_date": last.isoformat(), "late_days": 3, "test_window": True}
    assert _passes(settings, RELATIONSHIPS, nightly)
    with duckdb.connect(str(settings.build_db)) as con:
        # An old fact row of a customer int_customers does not have (an erasure gone wrong).
        con.execute(
            "insert into int_customer_daily_activity "
            "select 'erased-customer', activity_date, activity_type, events, is_engagement "
            "from int_customer_daily_activity where activity_date = ? limit 1",
            [first],
        )
    assert not _passes(settings, RELATIONSHIPS, nightly)


LOG_UNIQUE = "unique_combination_of_columns_mart_customer_activity_log_customer_id__activity_id"


def test_activity_log_tests_check_the_window(make_source: Any, tmp_path: Path) -> None:
    """The published activity log is tested on the days a nightly inserted: an old duplicate
    is left to full runs, a duplicate in the window fails the nightly."""
    settings = _built(make_source, tmp_path, 14, "+mart_customer_activity_log")
    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        (first, last) = con.execute(
            "select min(activity_date), max(activity_date) from mart_customer_activity_log"
        ).fetchone()
    assert last - first > timedelta(days=10), "the seeded log must span more than the window"
    nightly = {"min_date": last.isoformat(), "late_days": 3, "test_window": True}
    assert _passes(settings, LOG_UNIQUE, nightly), "the seeded build must pass to begin with"

    def duplicate(day: date) -> None:
        with duckdb.connect(str(settings.build_db)) as con:
            added = con.execute(
                "insert into mart_customer_activity_log select * from mart_customer_activity_log "
                "where activity_date = ? limit 1",
                [day],
            ).fetchone()[0]
        assert added == 1

    duplicate(first)
    assert not _passes(settings, LOG_UNIQUE, None), "a full test run must find the old duplicate"
    assert _passes(settings, LOG_UNIQUE, nightly), "the nightly window must not read old days"
    duplicate(last)
    assert not _passes(settings, LOG_UNIQUE, nightly), "a duplicate in the window must fail"


PERIODS_UNIQUE = (
    "unique_combination_of_columns_int_customer_active_periods_interval__period_start__customer_id"
)


def _duplicate_period(settings: Any, interval: str, start: date) -> None:
    with duckdb.connect(str(settings.build_db)) as con:
        added = con.execute(
            "insert into int_customer_active_periods select * from int_customer_active_periods "
            'where "interval" = ? and period_start = ? limit 1',
            [interval, start],
        ).fetchone()[0]
    assert added == 1, f"the seeded history has no {interval} period starting {start}"


def test_period_tests_cover_the_weeks_and_months_the_window_rebuilt(
    make_source: Any, tmp_path: Path
) -> None:
    settings = _built(make_source, tmp_path, 13, "+int_customer_active_periods")
    # Window from Friday 2025-04-11 (min_date - late_days): the nightly rebuilt April whole
    # and the ISO week from Monday 04-07, so its tests must read every period from 04-01.
    nightly = {"min_date": "2025-04-14", "late_days": 3, "test_window": True}
    assert _passes(settings, PERIODS_UNIQUE, nightly), "the seeded build must pass to begin with"

    _duplicate_period(settings, "month", date(2025, 2, 1))
    assert not _passes(settings, PERIODS_UNIQUE, None), "a full test run must find old periods"
    assert _passes(settings, PERIODS_UNIQUE, nightly), "February was not rebuilt: not read"

    _duplicate_period(settings, "month", date(2025, 4, 1))
    assert not _passes(settings, PERIODS_UNIQUE, nightly), "April was rebuilt: it must be read"
