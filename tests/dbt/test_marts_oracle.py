"""Every mart equals an independent oracle computed on the PostgreSQL source.

The oracle below is written from ``docs/metrics.md`` (not from the dbt models): plain
SQL on the operational tables (customers = role 'customer', business-time-zone buckets with
``AT TIME ZONE``, ISO weeks, complete periods relative to the latest activity timestamp),
with a little Python where that is clearer. The warehouse is built by the real chain (seed
-> ingestion -> dbt) once per time zone; counts must match exactly and money to the cent.
A second pass erases a customer in the source, re-ingests, runs an incremental (not
full-refresh) build and checks every mart again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from ingestion.privacy import parse_user_agent

pytestmark = pytest.mark.slow

ENGAGEMENT = ("booking_created", "payment_made")
INTERVALS = ("day", "week", "month")
NDAYS = (1, 7, 14, 30, 60, 90)


# ---------------------------------------------------------------- oracle (PostgreSQL) ---
def _base(tz: str) -> str:
    """Common CTEs: the high-water mark, customers and their activities in local time."""
    assert "'" not in tz
    return f"""
    with hwm as (
        select max("timestamp") as at,
               max("timestamp") at time zone '{tz}' as loc,
               (max("timestamp") at time zone '{tz}')::date as d
        from activities
    ),
    cust as (
        select id, created_at,
               created_at at time zone '{tz}' as signup_loc,
               (created_at at time zone '{tz}')::date as signup_date
        from users where role = 'customer'
    ),
    act as (
        select a.id, a.user_id, a.type::text as type, a."timestamp" as ts,
               a."timestamp" at time zone '{tz}' as loc,
               (a."timestamp" at time zone '{tz}')::date as d
        from activities a join cust c on c.id = a.user_id
    ),
    first_day as (
        select least((select min(signup_date) from cust), (select min(d) from act)) as d
    ),
    spine as (
        select u as unit, gs::date as period_start, (gs + ('1 ' || u)::interval)::date as period_end,
               (gs + ('1 ' || u)::interval) <= (select loc from hwm) as is_complete
        from unnest(array['day', 'week', 'month']) as u,
             lateral generate_series(date_trunc(u, (select d from first_day)),
                                     (select d from hwm)::timestamp, ('1 ' || u)::interval) as gs
    )
    """


def q(world: Any, tz: str, body: str) -> list[tuple]:
    with world.pg() as conn:
        conn.execute("set timezone = 'UTC'")
        return conn.execute(_base(tz) + body).fetchall()


def oracle_growth(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        """
    , rows as (
        select s.unit, s.period_start, s.is_complete,
            (select count(*) from cust c where date_trunc(s.unit, c.signup_date)::date = s.period_start) as new,
            (select count(*) from cust c where c.signup_loc < s.period_end::timestamp) as cumulative,
            (select count(distinct a.user_id) from act a where date_trunc(s.unit, a.d)::date = s.period_start) as active
        from spine s
    )
    select unit, period_start, new, cumulative,
        (new - lag(new) over w)::float8 / nullif(lag(new) over w, 0),
        active, is_complete
    from rows window w as (partition by unit order by period_start)
    """,
    )


def oracle_activity(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        """
    select s.unit, s.period_start, a.type, count(*), count(distinct a.user_id), s.is_complete
    from spine s join act a on date_trunc(s.unit, a.d)::date = s.period_start
    group by 1, 2, 3, 6
    """,
    )


def oracle_active_users(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        """
    , days as (select distinct user_id, d from act)
    , counts as (
        select s.period_start as d,
            (select count(*) from days where days.d = s.period_start) as dau,
            (select count(distinct user_id) from days where days.d between s.period_start - 6 and s.period_start) as wau,
            (select count(distinct user_id) from days where days.d between s.period_start - 29 and s.period_start) as mau
        from spine s where s.unit = 'day'
    )
    select d, dau, wau, mau, dau::float8 / nullif(mau, 0) from counts
    """,
    )


def oracle_lifecycle(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        """
    , periods as (
        select unit, period_start, is_complete,
               lag(period_start) over (partition by unit order by period_start) as prev_start
        from spine where unit in ('week', 'month')
    )
    , active as (select distinct s.unit, s.period_start, a.user_id
                 from periods s join act a on date_trunc(s.unit, a.d)::date = s.period_start)
    , labelled as (
        select p.unit, p.period_start, p.is_complete, cur.user_id,
            case
                when date_trunc(p.unit, c.signup_date)::date = p.period_start then 'new'
                when exists (select 1 from active pr where pr.unit = p.unit and pr.period_start = p.prev_start
                             and pr.user_id = cur.user_id) then 'returning'
                when c.signup_date < p.period_start then 'resurrecting'
            end as status
        from periods p
        join active cur on cur.unit = p.unit and cur.period_start = p.period_start
        join cust c on c.id = cur.user_id
        union all
        select p.unit, p.period_start, p.is_complete, pr.user_id, 'dormant'
        from periods p
        join active pr on pr.unit = p.unit and pr.period_start = p.prev_start
        where not exists (select 1 from active cur where cur.unit = p.unit
                          and cur.period_start = p.period_start and cur.user_id = pr.user_id)
    )
    select unit, period_start, status, count(*), is_complete
    from labelled where status is not null group by 1, 2, 3, 5
    """,
    )


def oracle_heatmap(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        """
    select dow, hr,
        (select count(*) from act where extract(isodow from loc) = dow and extract(hour from loc) = hr),
        (select count(distinct user_id) from act where extract(isodow from loc) = dow and extract(hour from loc) = hr)
    from generate_series(1, 7) dow, generate_series(0, 23) hr
    """,
    )


def customer_facts(world: Any, tz: str) -> dict[str, dict[str, Any]]:
    """Per customer: demographics, pets, device, 30-day activity, bookings and net revenue."""
    rows = q(
        world,
        tz,
        """
    , addr as (
        select distinct on (user_id) user_id, nullif(trim(country), '') as country,
               nullif(trim(city), '') as city
        from user_addresses order by user_id, is_default desc, created_at desc, id::text desc
    )
    , last_act as (
        select distinct on (a.user_id) a.user_id, a.user_agent
        from activities a join cust c on c.id = a.user_id
        order by a.user_id, a."timestamp" desc, a.id::text desc
    )
    select c.id::text, c.created_at, c.signup_date, u.date_of_birth,
        extract(year from age((select d from hwm), u.date_of_birth))::int as age,
        coalesce(u.gender::text, 'unknown'),
        coalesce(addr.country, 'unknown'), coalesce(addr.city, 'unknown'),
        la.user_id is not null as has_activity, la.user_agent,
        coalesce((select array_agg(distinct p.species::text order by p.species::text) from pets p
                  where p.owner_id = c.id and p.deleted_at is null), '{}'),
        exists (select 1 from act a where a.user_id = c.id
                and a.d between (select d from hwm) - 29 and (select d from hwm)) as active_30d
    from cust c join users u on u.id = c.id
    left join addr on addr.user_id = c.id
    left join last_act la on la.user_id = c.id
    """,
    )
    facts: dict[str, dict[str, Any]] = {}
    for (cid, signup_at, signup_date, _dob, age, gender, country, city, has_act, ua, species,
         active_30d) in rows:  # fmt: skip
        if age is None or age < 18:
            group = "unknown"
        elif age >= 65:
            group = "65+"
        else:
            lo = 18 if age < 25 else (age - 25) // 10 * 10 + 25
            group = f"{lo}-{lo + 6 if lo == 18 else lo + 9}"
        facts[cid] = {
            "signup_at": signup_at, "signup_date": signup_date, "age_group": group,
            "gender": gender, "country": country, "city": city,
            "device_type": parse_user_agent(ua)[0] if has_act else "unknown",
            "pet_species": tuple(species), "active_30d": active_30d,
            "bookings": defaultdict(int), "net": defaultdict(lambda: Decimal("0")),
        }  # fmt: skip
    with world.pg() as conn:
        for cid, cur, n in conn.execute(
            "select b.user_id::text, upper(trim(b.currency)), count(*) from bookings b "
            "join users u on u.id = b.user_id and u.role = 'customer' group by 1, 2"
        ):
            facts[cid]["bookings"][cur] += n
        for cid, cur, amount in conn.execute(
            "select p.user_id::text, upper(trim(p.currency)), sum(p.amount) from payments p "
            "join users u on u.id = p.user_id and u.role = 'customer' where p.status = 'paid' group by 1, 2"
        ):
            facts[cid]["net"][cur] += amount
    return facts


def oracle_demographics(world: Any, tz: str) -> list[tuple]:
    facts = customer_facts(world, tz)
    total = len(facts)
    members: dict[tuple[str, str], list[str]] = defaultdict(list)
    for cid, f in facts.items():
        for dim in ("age_group", "gender", "country", "city", "device_type"):
            members[(dim, f[dim])].append(cid)
        for species in f["pet_species"] or ("none",):
            members[("pet_species", species)].append(cid)
    out = []
    for (dim, seg), cids in members.items():
        n, active = len(cids), sum(facts[c]["active_30d"] for c in cids)
        currencies = sorted(
            {cur for c in cids for cur in (*facts[c]["bookings"], *facts[c]["net"])}
        )
        if not currencies:
            out.append((dim, seg, None, n, n / total, active, 0, None))
        for cur in currencies:
            bookings = sum(facts[c]["bookings"].get(cur, 0) for c in cids)
            net = sum((facts[c]["net"].get(cur, Decimal(0)) for c in cids), Decimal(0))
            out.append((dim, seg, cur, n, n / total, active, bookings, net))
    return out


def oracle_profile(world: Any, tz: str) -> list[tuple]:
    return [
        (cid, f["signup_at"], f["signup_date"], f["age_group"], f["gender"], f["country"],
         f["city"], f["device_type"], f["pet_species"], sum(f["bookings"].values()))
        for cid, f in customer_facts(world, tz).items()
    ]  # fmt: skip


def oracle_service_usage(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        f"""
    , b as (
        select date_trunc('month', b.created_at at time zone '{tz}')::date as month,
            coalesce(s.category::text, 'other') as category, upper(trim(b.currency)) as currency,
            count(*) as bookings,
            count(*) filter (where b.status = 'completed') as completed,
            count(*) filter (where b.status = 'cancelled') as cancelled,
            count(*) filter (where b.status = 'no_show') as no_show,
            count(distinct b.user_id) as customers
        from bookings b join cust c on c.id = b.user_id left join services s on s.id = b.service_id
        group by 1, 2, 3
    )
    , p as (
        select date_trunc('month', coalesce(p.paid_at, p.created_at) at time zone '{tz}')::date as month,
            coalesce(s.category::text, 'other') as category, upper(trim(p.currency)) as currency,
            coalesce(sum(p.amount) filter (where p.status in ('paid', 'refunded')), 0) as gross,
            coalesce(sum(p.amount) filter (where p.status = 'refunded'), 0) as refunds,
            count(distinct p.booking_id) filter (where p.status in ('paid', 'refunded')) as paid_bookings
        from payments p join cust c on c.id = p.user_id
        left join bookings bk on bk.id = p.booking_id left join services s on s.id = bk.service_id
        group by 1, 2, 3
    )
    , active as (select date_trunc('month', d)::date as month, count(distinct user_id) as n from act group by 1)
    , j as (
        select coalesce(b.month, p.month) as month, coalesce(b.category, p.category) as category,
            coalesce(b.currency, p.currency) as currency, coalesce(b.bookings, 0) as bookings,
            coalesce(b.completed, 0) as completed, coalesce(b.cancelled, 0) as cancelled,
            coalesce(b.no_show, 0) as no_show, coalesce(b.customers, 0) as customers,
            coalesce(p.gross, 0) as gross, coalesce(p.refunds, 0) as refunds,
            coalesce(p.paid_bookings, 0) as paid_bookings
        from b full join p on b.month = p.month and b.category = p.category and b.currency = p.currency
    )
    select j.month, j.category, j.currency, j.bookings, j.completed, j.cancelled, j.no_show,
        j.completed::float8 / nullif(j.bookings, 0), j.cancelled::float8 / nullif(j.bookings, 0),
        j.customers, j.gross, j.refunds, j.gross - j.refunds,
        round(j.gross / nullif(j.paid_bookings, 0), 2), round((j.gross - j.refunds) / nullif(a.n, 0), 2)
    from j left join active a on a.month = j.month
    """,
    )


def oracle_cohort_retention(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        f"""
    , months as (select period_start as m from spine where unit = 'month' and is_complete)
    , engaged as (select distinct user_id, date_trunc('month', d)::date as m from act
                  where type in {ENGAGEMENT!r})
    , cohorts as (select id, date_trunc('month', signup_date)::date as cm from cust)
    select c.cm, ((extract(year from m.m) - extract(year from c.cm)) * 12
                  + extract(month from m.m) - extract(month from c.cm))::int as k,
        count(distinct c.id) as size,
        count(distinct c.id) filter (where exists (select 1 from engaged e where e.user_id = c.id and e.m = m.m)),
        count(distinct c.id) filter (where exists (select 1 from engaged e where e.user_id = c.id and e.m = m.m))::float8
            / count(distinct c.id),
        count(distinct c.id) filter (where exists (select 1 from engaged e join months mm on mm.m = e.m
                                                   where e.user_id = c.id and e.m >= m.m)),
        count(distinct c.id) filter (where exists (select 1 from engaged e join months mm on mm.m = e.m
                                                   where e.user_id = c.id and e.m >= m.m))::float8
            / count(distinct c.id)
    from cohorts c join months m on m.m >= c.cm
    where c.cm in (select m from months)
    group by 1, 2
    """,
    )


def oracle_nday(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        f"""
    , n as (select unnest(array{list(NDAYS)}) as n)
    , elig as (
        select c.id, date_trunc('week', c.signup_date)::date as cw, n.n,
            exists (select 1 from act a where a.user_id = c.id
                    and a.ts >= c.created_at + n.n * interval '24 hours'
                    and a.ts < c.created_at + (n.n + 1) * interval '24 hours') as retained
        from cust c cross join n
        where c.created_at + (n.n + 1) * interval '24 hours' <= (select at from hwm)
    )
    select cw, n, count(*), count(*) filter (where retained),
           (count(*) filter (where retained))::float8 / count(*)
    from elig group by 1, 2
    """,
    )


def oracle_retention_monthly(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        f"""
    , months as (select period_start as m, period_end as next_m from spine s
                 where unit = 'month' and is_complete
                 and exists (select 1 from spine s2 where s2.unit = 'month' and s2.period_start = s.period_end
                             and s2.is_complete))
    , engaged as (select distinct user_id, date_trunc('month', d)::date as m from act
                  where type in {ENGAGEMENT!r})
    , counts as (
        select m.m, count(e.user_id) as engaged,
            count(e.user_id) filter (where exists (select 1 from engaged e2 where e2.user_id = e.user_id
                                                   and e2.m = m.next_m)) as retained
        from months m left join engaged e on e.m = m.m group by 1
    )
    select m, engaged, retained, retained::float8 / nullif(engaged, 0),
           1 - retained::float8 / nullif(engaged, 0)
    from counts
    """,
    )


def oracle_repeat(world: Any, tz: str) -> list[tuple]:
    return q(
        world,
        tz,
        f"""
    , per as (
        select s.period_start, b.user_id, count(*) as n
        from spine s
        join bookings b on (b.created_at at time zone '{tz}')::date < s.period_end
        join cust c on c.id = b.user_id
        where s.unit = 'month' group by 1, 2
    )
    select s.period_start,
        count(per.user_id), count(per.user_id) filter (where per.n >= 2),
        (count(per.user_id) filter (where per.n >= 2))::float8 / nullif(count(per.user_id), 0)
    from spine s left join per on per.period_start = s.period_start
    where s.unit = 'month' group by 1
    """,
    )


def oracle_activity_daily(world: Any, tz: str) -> list[tuple]:
    return q(world, tz, "select user_id::text, d, type, count(*) from act group by 1, 2, 3")


def oracle_rfm(world: Any, tz: str) -> list[tuple]:
    """RFM as of the high-water date, scored by PostgreSQL's own percent_rank() over the buyers
    (docs/predictions.md, "RFM segments"): the dbt model counts buyers per distinct value."""
    return q(
        world,
        tz,
        f"""
    , pay as (
        select p.user_id::text as cid, upper(trim(p.currency)) as cur, p.amount,
               (coalesce(p.paid_at, p.created_at) at time zone '{tz}')::date as pd
        from payments p join cust c on c.id = p.user_id
        where p.status in ('paid', 'refunded')
          and (coalesce(p.paid_at, p.created_at) at time zone '{tz}')::date <= (select d from hwm)
    )
    , per_cur as (select cid, cur, count(*) as n, sum(amount) as amt from pay group by 1, 2)
    , main as (select distinct on (cid) cid, cur, amt from per_cur order by cid, n desc, cur)
    , buyers as (
        select pay.cid, (select d from hwm) - max(pay.pd) as recency, count(*) as freq,
               main.cur, main.amt
        from pay join main using (cid) group by pay.cid, main.cur, main.amt
    )
    , scored as (
        select buyers.*,
            least(5, 1 + floor(5 * percent_rank() over (order by recency desc)))::int as r,
            least(5, 1 + floor(5 * percent_rank() over (order by freq)))::int as f,
            least(5, 1 + floor(5 * percent_rank() over (partition by cur order by amt)))::int as m
        from buyers
    )
    select c.id::text, (select d from hwm), s.recency, coalesce(s.freq, 0), s.cur, s.amt,
        s.r, s.f, s.m, case when s.r is not null then concat(s.r, s.f, s.m) end,
        case
            when s.cid is null then 'no_purchase'
            when s.r >= 4 and s.f >= 4 and s.m >= 4 then 'champions'
            when s.r >= 3 and s.f >= 4 then 'loyal'
            when s.r >= 4 and s.freq = 1 then 'new'
            when s.r >= 4 then 'potential_loyalist'
            when s.r = 3 then 'needs_attention'
            when s.f >= 3 then 'at_risk'
            else 'hibernating'
        end
    from cust c left join scored s on s.cid = c.id::text
    where c.signup_date <= (select d from hwm)
    """,
    )


ORACLES = {
    "mart_customer_growth": oracle_growth,
    "mart_customer_activity": oracle_activity,
    "mart_active_users": oracle_active_users,
    "mart_customer_lifecycle": oracle_lifecycle,
    "mart_activity_heatmap": oracle_heatmap,
    "mart_customer_demographics": oracle_demographics,
    "mart_service_usage": oracle_service_usage,
    "mart_cohort_retention": oracle_cohort_retention,
    "mart_nday_retention": oracle_nday,
    "mart_retention_monthly": oracle_retention_monthly,
    "mart_repeat_customers": oracle_repeat,
    "mart_customer_activity_daily": oracle_activity_daily,
    "mart_customer_profile": oracle_profile,
    "mart_customer_rfm": oracle_rfm,
}


# --------------------------------------------------------------------- comparison ---
def _norm(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _rows(rows: Iterable[tuple]) -> list[tuple]:
    return sorted((tuple(_norm(v) for v in row) for row in rows), key=repr)


def mart_rows(world: Any, mart: str) -> list[tuple]:
    with world.marts() as con:
        return con.execute(f"select * from main.{mart}").fetchall()


def assert_same(mart: str, actual: list[tuple], expected: list[tuple]) -> None:
    a, e = _rows(actual), _rows(expected)
    assert e, f"{mart}: the oracle is empty; the test data is too small to test anything"
    missing = [r for r in e if r not in set(a)]
    extra = [r for r in a if r not in set(e)]
    assert not missing and not extra, (
        f"{mart}: {len(a)} rows vs oracle {len(e)}; "
        f"missing from mart (first 5): {missing[:5]}; not in oracle (first 5): {extra[:5]}"
    )


# --------------------------------------------------------------------------- tests ---
@pytest.fixture(scope="module", params=["UTC", "Europe/Berlin"])
def world(request: pytest.FixtureRequest, world_factory: Any) -> Any:
    return world_factory(request.param)


@pytest.mark.parametrize("mart", sorted(ORACLES))
def test_mart_matches_oracle(world: Any, mart: str) -> None:
    tz = world.settings.timezone
    assert_same(mart, mart_rows(world, mart), ORACLES[mart](world, tz))


def test_erased_customer_disappears_after_incremental_refresh(world: Any) -> None:
    """Erase the most active customer in the source, re-ingest, build incrementally (no
    --full-refresh): the customer is gone from every mart and every mart still matches."""
    from ingestion.run import run_ingestion
    from warehouse.dbt import run_dbt

    with world.pg() as conn:
        victim = conn.execute(
            "select a.user_id::text from activities a join users u on u.id = a.user_id "
            "where u.role = 'customer' group by 1 order by count(*) desc, 1 limit 1"
        ).fetchone()[0]
        conn.execute("delete from users where id = %s", (victim,))
    run_ingestion(world.settings)
    run_dbt(world.settings, ["build"], capture=True)
    with world.marts() as con:
        for table in ("mart_customer_activity_daily", "mart_customer_profile", "int_customer_daily_activity",
                      "int_customer_hourly_activity"):  # fmt: skip
            left = con.execute(
                f"select count(*) from main.{table} where customer_id = ?", [victim]
            ).fetchone()
            assert left == (0,), f"erased customer still in {table}"
    for mart, oracle in ORACLES.items():
        assert_same(mart, mart_rows(world, mart), oracle(world, world.settings.timezone))


def test_a_profile_missing_a_customer_fails_its_test(world: Any) -> None:
    """Without a segment filter the API counts the customer-level marts without joining them
    to ``mart_customer_profile`` (serving/sql.py, ``segment_join``): exact only while the
    profile holds every customer of ``int_customers``, the set those marts are tested against.
    The profile's ``includes_every`` test must pass as built and fail once a customer is gone."""
    from warehouse.dbt import DbtError, run_dbt

    select = ["test", "--select", "mart_customer_profile,test_name:includes_every"]
    passed = run_dbt(world.settings, select, capture=True)
    assert [r.status for r in passed.results if r.unique_id.startswith("test.")] == ["pass"]
    with duckdb.connect(str(world.settings.build_db)) as con:
        (customer,) = con.execute(
            "select customer_id from main.int_customers order by customer_id limit 1"
        ).fetchone()
        con.execute(
            "create table main.held_back as "
            "select * from main.mart_customer_profile where customer_id = ?",
            [customer],
        )
        con.execute("delete from main.mart_customer_profile where customer_id = ?", [customer])
    try:
        with pytest.raises(DbtError, match="includes_every"):
            run_dbt(world.settings, select, capture=True)
    finally:
        with duckdb.connect(str(world.settings.build_db)) as con:
            con.execute("insert into main.mart_customer_profile select * from main.held_back")
            con.execute("drop table main.held_back")


# The shared data-layout contract (HELPER_RULES.md), typed as DuckDB reports the columns.
CONTRACT = {
    "mart_customer_growth": "interval VARCHAR, period_start DATE, new_customers BIGINT, cumulative_customers BIGINT, growth_rate DOUBLE, active_customers BIGINT, is_complete BOOLEAN",
    "mart_customer_activity": "interval VARCHAR, period_start DATE, activity_type VARCHAR, events BIGINT, active_customers BIGINT, is_complete BOOLEAN",
    "mart_active_users": "activity_date DATE, dau BIGINT, wau BIGINT, mau BIGINT, stickiness DOUBLE",
    "mart_customer_lifecycle": "interval VARCHAR, period_start DATE, status VARCHAR, customers BIGINT, is_complete BOOLEAN",
    "mart_activity_heatmap": "day_of_week INTEGER, hour_of_day INTEGER, events BIGINT, active_customers BIGINT",
    "mart_customer_demographics": "dimension VARCHAR, segment VARCHAR, currency VARCHAR, customers BIGINT, share_of_customers DOUBLE, active_customers_30d BIGINT, bookings BIGINT, net_revenue DECIMAL(18,2)",
    "mart_service_usage": "month DATE, service_category VARCHAR, currency VARCHAR, bookings BIGINT, completed BIGINT, cancelled BIGINT, no_show BIGINT, completion_rate DOUBLE, cancellation_rate DOUBLE, unique_customers BIGINT, gross_revenue DECIMAL(18,2), refunds DECIMAL(18,2), net_revenue DECIMAL(18,2), avg_booking_value DECIMAL(18,2), arpu DECIMAL(18,2)",
    "mart_cohort_retention": "cohort_month DATE, months_since_signup INTEGER, cohort_size BIGINT, retained_customers BIGINT, retention_rate DOUBLE, retained_on_or_after BIGINT, rolling_retention_rate DOUBLE",
    "mart_nday_retention": "cohort_week DATE, day_n INTEGER, cohort_size BIGINT, retained_customers BIGINT, retention_rate DOUBLE",
    "mart_retention_monthly": "month DATE, engaged_customers BIGINT, retained_customers BIGINT, retention_rate DOUBLE, churn_rate DOUBLE",
    "mart_repeat_customers": "month DATE, booking_customers BIGINT, repeat_customers BIGINT, repeat_rate DOUBLE",
    "mart_customer_activity_daily": "customer_id VARCHAR, activity_date DATE, activity_type VARCHAR, events BIGINT",
    "mart_customer_profile": "customer_id VARCHAR, signup_at TIMESTAMP WITH TIME ZONE, signup_date DATE, age_group VARCHAR, gender VARCHAR, country VARCHAR, city VARCHAR, device_type VARCHAR, pet_species VARCHAR[], bookings BIGINT",
}  # fmt: skip


def test_marts_have_exactly_the_contract_columns(world: Any) -> None:
    with world.marts() as con:
        for mart, spec in CONTRACT.items():
            actual = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [mart],
            ).fetchall()
            expected = [tuple(col.split(" ", 1)) for col in spec.split(", ")]
            assert actual == expected, f"{mart}: {actual} != {expected}"


def test_every_declared_unit_test_runs_and_passes(world: Any) -> None:
    """A refresh leaves dbt's unit tests out (they re-prove fixed SQL, not the data), so the
    suite is where they must run: every ``unit_tests:`` entry of the project's YAML, counted
    here from the files rather than from dbt, runs and passes on the built warehouse."""
    import yaml

    from warehouse.dbt import run_dbt

    declared = {
        entry["name"]
        for path in (world.settings.dbt_project_dir / "models").rglob("*.yml")
        for entry in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    }
    assert len(declared) >= 10
    run = run_dbt(world.settings, ["test", "--select", "test_type:unit"], capture=True)
    kinds = {r.unique_id.split(".")[0] for r in run.results}
    assert kinds <= {"unit_test", "operation"}  # the project's on-run-start hook
    ran = {
        r.unique_id.rsplit(".", 1)[-1]: r.status
        for r in run.results
        if r.unique_id.startswith("unit_test.")
    }
    assert ran == dict.fromkeys(declared, "pass")
