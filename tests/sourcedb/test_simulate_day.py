"""simulate-day: what one day of application life changes, checked with SQL on the source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from sourcedb.seed import seed_source
from sourcedb.simulate import SimulateError, simulate_day

CUSTOMERS, DAYS = 300, 60
END = date(2025, 6, 30)  # fixed, so the simulated day (and its draws) never changes


def q(url: str, sql: str, *params: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params or None).fetchall()


def _seeded(make_db: Callable[[], str]) -> str:
    url = make_db()
    seed_source(url, customers=CUSTOMERS, days=DAYS, end_date=END, seed=11)
    return url


@pytest.fixture(scope="module")
def simulated(make_db: Callable[[], str]) -> tuple[str, set[str], object]:
    url = _seeded(make_db)
    before = {r[0] for r in q(url, "select id::text from users where role = 'customer'")}
    summary = simulate_day(url, seed=7, erasures=1, deactivations=1)
    return url, before, summary


def test_default_day_is_the_day_after_the_history(simulated: tuple) -> None:
    _, _, summary = simulated
    assert summary.day == date(2025, 7, 1)


def test_inserts_and_updates_of_the_day(simulated: tuple) -> None:
    url, _, summary = simulated
    day = summary.day
    (new_users,) = q(url, "select count(*) from users where created_at::date = %s", day)[0]
    assert new_users > 0
    (acts,) = q(url, "select count(*) from activities where created_at::date = %s", day)[0]
    assert acts > 100
    (types,) = q(url, "select count(distinct type) from activities where created_at::date = %s",
                 day)[0]  # fmt: skip
    assert types >= 8
    (transitions,) = q(
        url,
        "select count(*) from bookings where updated_at::date = %s and created_at::date < %s",
        day,
        day,
    )[0]
    assert transitions > 0
    (pet_edits,) = q(
        url, "select count(*) from pets where updated_at::date = %s and created_at::date < %s",
        day, day,
    )[0]  # fmt: skip
    assert pet_edits > 0
    (profile_edits,) = q(
        url, "select count(*) from users where updated_at::date = %s and created_at::date < %s",
        day, day,
    )[0]  # fmt: skip
    assert profile_edits > 0
    (new_payments,) = q(url, "select count(*) from payments where created_at::date = %s", day)[0]
    assert new_payments > 0


def test_late_activities(simulated: tuple) -> None:
    url, _, summary = simulated
    day = summary.day
    rows = q(
        url,
        "select timestamp, created_at, updated_at from activities "
        "where created_at::date = %s and timestamp::date < %s",
        day,
        day,
    )
    assert rows
    for ts, created, updated in rows:
        assert created == updated
        assert timedelta(0) < created - ts <= timedelta(days=3)
    (total,) = q(url, "select count(*) from activities where created_at::date = %s", day)[0]
    assert len(rows) < 0.05 * total  # about 1%, not a flood


def test_erasure_and_deactivation(simulated: tuple) -> None:
    url, before, summary = simulated
    after = {r[0] for r in q(url, "select id::text from users where role = 'customer'")}
    gone = before - after
    assert len(gone) == 1
    (left,) = q(
        url,
        "select (select count(*) from activities where user_id = %s::uuid) "
        "+ (select count(*) from bookings where user_id = %s::uuid) "
        "+ (select count(*) from pets where owner_id = %s::uuid)",
        *([next(iter(gone))] * 3),
    )[0]
    assert left == 0
    rows = q(
        url,
        "select u.active from activities a join users u on u.id = a.user_id "
        "where a.type = 'account_deactivated' and a.created_at::date = %s",
        summary.day,
    )
    assert rows == [(False,)]


def test_integrity_after_simulation(
    simulated: tuple, violations: Callable[[str], dict[str, int]]
) -> None:
    url, _, _ = simulated
    assert violations(url) == {}


def test_deterministic_for_same_state_and_seed(
    make_db: Callable[[], str], checksums: Callable[[str], dict[str, str]]
) -> None:
    a, b = _seeded(make_db), _seeded(make_db)
    simulate_day(a, seed=3, erasures=1, deactivations=0)
    simulate_day(b, seed=3, erasures=1, deactivations=0)
    assert checksums(a) == checksums(b)


def test_refuses_future_day_and_empty_source(make_db: Callable[[], str]) -> None:
    url = make_db()
    with pytest.raises(SimulateError, match="seed it first"):
        simulate_day(url)
    seed_source(url, customers=30, days=5, seed=1)
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with pytest.raises(SimulateError, match="has not started"):
        simulate_day(url, tomorrow)


def test_today_is_capped_at_now(make_db: Callable[[], str]) -> None:
    url = make_db()
    seed_source(url, customers=200, days=20, seed=2)  # default end: today - 2 days
    today = datetime.now(UTC).date()
    (last,) = q(url, "select max(timestamp)::date from activities")[0]
    assert last == today - timedelta(days=2)
    simulate_day(url, today - timedelta(days=1), seed=1)
    simulate_day(url, today, seed=1)
    (future,) = q(
        url,
        "select (select count(*) from activities where timestamp > now() or created_at > now()) "
        "+ (select count(*) from bookings where created_at > now() or updated_at > now()) "
        "+ (select count(*) from payments where updated_at > now())",
    )[0]
    assert future == 0
