"""Contract: the compatible endpoints on a real publication equal an SQL oracle on the source.

Runs on the lead's session fixture ``pipeline`` (tests/conftest.py: ``.settings`` whose home
holds a publication + exports produced from a seeded source at ``.source_url``). The oracle
below is written from docs/metrics.md directly against the operational PostgreSQL tables, in the
business time zone, independently of dbt and of the API.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

SECRET = "contract-secret-0123456789abcdef0123456789abcdef"
CUSTOMER = "join users u on u.id = {t}.user_id and u.role = 'customer'"


@pytest.fixture(scope="module")
def api(pipeline):
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.auth import mint_token

    settings = pipeline.settings.model_copy(update={"jwt_secret": SECRET})
    token = mint_token(settings, role="admin", sub="contract")
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as c:
        yield c


@pytest.fixture(scope="module")
def pg(pipeline):
    with psycopg.connect(pipeline.source_url) as conn:
        conn.execute("select set_config('timezone', %s, false)", (pipeline.settings.timezone,))
        yield conn


def _floor(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _range(pg) -> tuple[date, date]:
    lo, hi = pg.execute(
        "select min(created_at)::date, max(created_at)::date from users where role = 'customer'"
    ).fetchone()
    return lo, hi


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_customer_growth(api, pg, interval):
    lo, hi = _range(pg)
    start = lo + timedelta(days=3)
    expected = [
        {"date": d.isoformat(), "count": n}
        for d, n in pg.execute(
            """select date_trunc(%s, created_at)::date as d, count(*) from users
               where role = 'customer' and date_trunc(%s, created_at)::date between %s and %s
               group by 1 order by 1""",
            (interval, interval, _floor(start, interval), hi),
        ).fetchall()
    ]
    got = api.get(
        "/analytics/customer-growth",
        params={"startDate": start.isoformat(), "endDate": hi.isoformat(), "interval": interval},
    )
    assert got.status_code == 200
    assert got.json() == expected


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["week", "month"])
def test_customer_activity_and_statistics(api, pg, interval):
    lo, hi = pg.execute(
        f'select min(a."timestamp")::date, max(a."timestamp")::date from activities a {CUSTOMER.format(t="a")}'
    ).fetchone()
    rows = pg.execute(
        f"""select date_trunc(%s, a."timestamp")::date, a.type::text, count(*)
            from activities a {CUSTOMER.format(t="a")}
            where date_trunc(%s, a."timestamp")::date between %s and %s
            group by 1, 2 order by 1, 2""",
        (interval, interval, _floor(lo, interval), hi),
    ).fetchall()
    params = {"startDate": lo.isoformat(), "endDate": hi.isoformat()}
    got = api.get("/analytics/customer-activity", params={**params, "interval": interval}).json()
    assert got == [{"date": d.isoformat(), "activity_type": t, "count": n} for d, t, n in rows]
    stats = api.get("/activities/statistics", params={**params, "groupBy": interval}).json()
    assert stats == [{"period": d.isoformat(), "type": t, "count": n} for d, t, n in rows]


@pytest.mark.slow
def test_customer_demographics(api, pg):
    got = api.get("/analytics/customer-demographics").json()
    top = pg.execute(
        f"""select a.user_id::text, count(*) from activities a {CUSTOMER.format(t="a")}
            group by 1 order by 2 desc, 1 limit 10"""
    ).fetchall()
    assert got["topActiveUsers"] == [{"userId": i, "activity_count": n} for i, n in top]
    months = pg.execute(
        """select * from (select date_trunc('month', created_at)::date as m, count(*) from users
           where role = 'customer' group by 1 order by 1 desc limit 12) t order by m"""
    ).fetchall()
    assert got["registrationByMonth"] == [{"month": m.isoformat(), "count": n} for m, n in months]
    pets = pg.execute(
        """select p.species::text, count(distinct p.owner_id) from pets p
           join users u on u.id = p.owner_id and u.role = 'customer'
           where p.deleted_at is null group by 1 order by 2 desc, 1"""
    ).fetchall()
    assert got["petTypesData"] == [{"type": s, "count": n} for s, n in pets]


@pytest.mark.slow
def test_service_usage(api, pg):
    lo, hi = pg.execute(
        "select min(created_at)::date, max(created_at)::date from bookings"
    ).fetchone()
    got = api.get(
        "/analytics/service-usage", params={"startDate": lo.isoformat(), "endDate": hi.isoformat()}
    ).json()
    by_type = pg.execute(
        f"""select s.category::text, count(*) from bookings b {CUSTOMER.format(t="b")}
            join services s on s.id = b.service_id group by 1 order by 2 desc, 1"""
    ).fetchall()
    assert got["bookingsByType"] == [{"service_type": c, "count": n} for c, n in by_type]
    revenue = pg.execute(
        """select date_trunc('month', coalesce(p.paid_at, p.created_at))::date as m, p.currency,
                  sum(p.amount) from payments p
           where p.status in ('paid', 'refunded')
             and date_trunc('month', coalesce(p.paid_at, p.created_at))::date between %s and %s
           group by 1, 2 having sum(p.amount) <> 0 order by 1, 2""",
        (_floor(lo, "month"), hi),
    ).fetchall()
    assert got["monthlyRevenue"] == [
        {"month": m.isoformat(), "currency": c.strip(), "total_amount": f"{Decimal(a):.2f}"}
        for m, c, a in revenue
    ]


@pytest.mark.slow
def test_customer_retention(api, pg):
    got = api.get("/analytics/customer-retention").json()
    repeaters = pg.execute(
        f"""select b.user_id::text, count(*) from bookings b {CUSTOMER.format(t="b")}
            group by 1 having count(*) > 1 order by 2 desc, 1 limit 50"""
    ).fetchall()
    assert got["customersWithMultipleBookings"] == [
        {"id": i, "booking_count": n} for i, n in repeaters
    ]
    rows = pg.execute(
        f"""with hwm as (select max("timestamp") as t from activities),
            engaged as (
              select distinct a.user_id, date_trunc('month', a."timestamp") as m
              from activities a {CUSTOMER.format(t="a")}
              where a.type in ('booking_created', 'payment_made')),
            months as (
              select distinct m from engaged, hwm where m + interval '2 months' <= hwm.t)
            select months.m::date, count(distinct e.user_id), count(distinct n.user_id),
                   round(count(distinct n.user_id)::numeric / nullif(count(distinct e.user_id), 0) * 100, 2)
            from months join engaged e on e.m = months.m
            left join engaged n on n.user_id = e.user_id and n.m = months.m + interval '1 month'
            group by 1 order by 1 desc limit 12"""
    ).fetchall()
    assert got["retentionByMonth"] == [
        {"month": m.isoformat(), "total_users": t, "retained_users": r, "retention_rate": float(p)}
        for m, t, r, p in rows
    ]
