"""Fixtures of the sourcedb tests: seeded databases shared per module (seeding is the slow part)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from sourcedb.schema import SOURCE_TABLES, create_schema


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="module")
def make_db(pg_admin_url: str) -> Iterator[Callable[[], str]]:
    """Factory of fresh databases holding the PetPro schema, dropped at module end."""
    created: list[str] = []

    def make() -> str:
        name = f"s_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        url = _with_database(pg_admin_url, name)
        with psycopg.connect(url) as conn:
            create_schema(conn)
        return url

    yield make
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        for name in created:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def table_checksums(url: str) -> dict[str, str]:
    """md5 of every table's rows (as text, ordered by id), computed by PostgreSQL."""
    out: dict[str, str] = {}
    with psycopg.connect(url) as conn:
        for table in SOURCE_TABLES:
            row = conn.execute(
                sql.SQL(
                    "select md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from {} t"
                ).format(sql.Identifier(table))
            ).fetchone()
            assert row is not None
            out[table] = row[0]
    return out


# Every statement counts rows that break a rule; all must be zero.
INTEGRITY_CHECKS: dict[str, str] = {
    "activities without a user": "select count(*) from activities where user_id is null",
    "booking activity ⟂ booking": """
        select count(*) from activities a left join bookings b on b.id = (a.metadata->>'bookingId')::uuid
        left join services s on s.id = b.service_id
        where a.type in ('booking_created', 'booking_updated', 'booking_cancelled')
          and (b.id is null or b.user_id <> a.user_id or s.category::text <> a.metadata->>'serviceType')""",
    "payment activity ⟂ payment": """
        select count(*) from activities a left join payments p on p.id = (a.metadata->>'paymentId')::uuid
        where a.type in ('payment_made', 'payment_refunded')
          and (p.id is null or p.user_id <> a.user_id or p.currency <> a.metadata->>'currency'
               or jsonb_typeof(a.metadata->'amount') <> 'number'
               or (a.metadata->>'amount')::numeric <> p.amount
               or a.metadata->>'amount' !~ '^[0-9]+\\.[0-9]{2}$')""",
    "refund activity on a non-refunded payment": """
        select count(*) from activities a join payments p on p.id = (a.metadata->>'paymentId')::uuid
        where a.type = 'payment_refunded' and p.status <> 'refunded'""",
    "payment_made on a failed payment": """
        select count(*) from activities a join payments p on p.id = (a.metadata->>'paymentId')::uuid
        where a.type = 'payment_made' and p.status not in ('paid', 'refunded')""",
    "review activity ⟂ review": """
        select count(*) from activities a left join reviews r on r.id = (a.metadata->>'reviewId')::uuid
        where a.type = 'review_submitted'
          and (r.id is null or r.user_id <> a.user_id or (a.metadata->>'rating')::int <> r.rating
               or a.metadata->>'targetType' <> 'service'
               or (a.metadata->>'targetId')::uuid <> r.service_id)""",
    "pet activity ⟂ pet": """
        select count(*) from activities a left join pets p on p.id = (a.metadata->>'petId')::uuid
        where a.type in ('pet_created', 'pet_updated', 'pet_removed')
          and (p.id is null or p.owner_id <> a.user_id or p.species::text <> a.metadata->>'species')""",
    "profile_update without changes": """
        select count(*) from activities where type = 'profile_update'
          and jsonb_typeof(metadata->'changes') is distinct from 'array'""",
    "other activity with metadata": """
        select count(*) from activities where type in ('login', 'logout', 'account_created',
          'email_verified', 'notification_settings_updated', 'password_changed')
          and metadata <> '{}'::jsonb""",
    "account_created not at signup": """
        select count(*) from users u where not exists (select 1 from activities a
          where a.user_id = u.id and a.type = 'account_created' and a.timestamp = u.created_at)
          and u.role <> 'system'""",
    "payment ⟂ booking": """
        select count(*) from payments p join bookings b on b.id = p.booking_id
        where p.amount <> b.amount or p.currency <> b.currency or p.user_id <> b.user_id""",
    "booking ⟂ service currency": """
        select count(*) from bookings b join services s on s.id = b.service_id
        where b.currency <> s.currency""",
    "review ⟂ booking": """
        select count(*) from reviews r join bookings b on b.id = r.booking_id
        where b.status <> 'completed' or r.user_id <> b.user_id or r.service_id <> b.service_id
          or r.created_at < b.end_time""",
    "updated_at before created_at": """
        select (select count(*) from users where updated_at < created_at)
             + (select count(*) from pets where updated_at < created_at)
             + (select count(*) from bookings where updated_at < created_at)
             + (select count(*) from payments where updated_at < created_at)
             + (select count(*) from activities where updated_at < created_at)""",
    "timestamps after now": """
        select (select count(*) from activities where timestamp > now() or created_at > now())
             + (select count(*) from users where created_at > now() or updated_at > now())
             + (select count(*) from bookings where created_at > now() or updated_at > now())
             + (select count(*) from payments where updated_at > now() or paid_at > now())
             + (select count(*) from reviews where updated_at > now())""",
    "names or e-mails in descriptions": """
        select count(*) from activities a join users u on u.id = a.user_id
        where a.description like '%@%' or position(u.last_name in a.description) > 0""",
}


def integrity_violations(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        counts = {name: conn.execute(q).fetchone()[0] for name, q in INTEGRITY_CHECKS.items()}  # type: ignore[index]
    return {k: v for k, v in counts.items() if v}


@pytest.fixture(scope="session")
def checksums() -> Callable[[str], dict[str, str]]:
    return table_checksums


@pytest.fixture(scope="session")
def violations() -> Callable[[str], dict[str, int]]:
    return integrity_violations
