"""Each metric is defined once, in dbt: the API's filtered answers agree with the marts.

A filter that keeps every customer must give back the mart's own rows (the fixture's marts
are aggregated in conftest.py independently of serving/), and the API's SQL holds no
formula of its own: whatever combines counts is a macro of dbt_project/macros that a mart
uses too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.serving.conftest import DAILY

ROOT = Path(__file__).resolve().parents[2]
SQL_MODULES = ("queries.py", "compat.py", "sql.py")
EVERY_GENDER = "male,female,other,unknown"
ALL_TYPES = ",".join(
    ["login", "booking_created", "payment_made", "account_created"]
)  # every type in the fixture


def _data(client, headers, path, **params):
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("path", "params", "everyone"),
    [
        ("/v2/customer-growth", {"interval": "month"}, {"gender": EVERY_GENDER}),
        ("/v2/customer-growth", {"interval": "week"}, {"activity_type": ALL_TYPES}),
        ("/v2/customer-growth", {"interval": "day"}, {"pet_species": "dog,cat,bird,none"}),
        # Ranges starting inside a period: that period is reported whole, its earlier days too.
        (
            "/v2/customer-growth",
            {"interval": "week", "start": "2024-02-04", "end": "2024-03-13"},
            {"gender": EVERY_GENDER},
        ),
        (
            "/v2/customer-growth",
            {"interval": "month", "start": "2024-02-10", "end": "2024-03-02"},
            {"activity_type": ALL_TYPES},
        ),
        ("/v2/active-users", {}, {"country": "DE,FR,US"}),
        ("/v2/active-users", {}, {"activity_type": ALL_TYPES}),
        ("/v2/retention-monthly", {}, {"gender": EVERY_GENDER}),
        ("/v2/customer-activity", {"interval": "week"}, {"gender": EVERY_GENDER}),
    ],
)
def test_filter_keeping_everyone_equals_the_mart(client, analyst, path, params, everyone):
    mart = _data(client, analyst, path, **params)
    counted = _data(client, analyst, path, **params, **everyone)
    assert mart["meta"]["computed_from"] == "mart"
    assert counted["meta"]["computed_from"] == "customer-level marts"
    assert counted["data"] == mart["data"]


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1) if interval == "month" else day


@pytest.mark.parametrize("interval", ["day", "week", "month"])
@pytest.mark.parametrize("bounds", [{}, {"start": "2024-02-07", "end": "2024-03-04"}])
def test_active_customers_of_everyone_count_the_daily_fact(client, analyst, interval, bounds):
    """Without a filter the answer reads the growth and activity marts; it must be what the
    customer-level fact counts: distinct customers and events per period, periods overlapping
    the range whole, periods without activity omitted (counted here in Python from the
    fixture's rows, not by the API's SQL)."""
    start = _period_start(date.fromisoformat(bounds.get("start", "1900-01-01")), interval)
    end = date.fromisoformat(bounds.get("end", "2100-01-01"))
    customers: dict[date, set[str]] = defaultdict(set)
    events: dict[date, int] = defaultdict(int)
    for customer, day, _type, n in DAILY:
        period = _period_start(date.fromisoformat(day), interval)
        if start <= period <= end:
            customers[period].add(customer)
            events[period] += n
    expected = [
        {"period_start": p.isoformat(), "active_customers": len(customers[p]), "events": events[p]}
        for p in sorted(customers)
    ]
    answer = _data(client, analyst, "/v2/active-customers", interval=interval, **bounds)
    assert answer["meta"]["computed_from"] == "mart"
    assert len(expected) >= 2
    assert answer["data"] == expected


def test_api_sql_has_no_formula_of_its_own():
    # Windows, running totals, previous periods, ratios and period buckets are dbt macros.
    source = "\n".join((ROOT / "serving" / f).read_text() for f in SQL_MODULES)
    for pattern in (r"\bover\s*\(", r"\blag\s*\(", r"nullif\s*\(", r"date_trunc", r"\bcase\s+when"):
        assert not re.search(pattern, source, re.IGNORECASE), pattern
    assert "ENGAGEMENT" not in source and "booking_created" not in source


def test_every_formula_the_api_renders_is_used_by_a_mart():
    from serving.formulas import formulas

    source = (ROOT / "serving" / "queries.py").read_text()
    rendered = set(re.findall(r'fx\("(\w+)"', source))
    assert rendered >= {"cumulative", "growth_rate", "stickiness", "retention_rate"}
    models = "\n".join(
        p.read_text() for p in (ROOT / "dbt_project" / "models" / "marts").glob("*.sql")
    )
    for name in rendered:
        assert re.search(r"\{\{\s*" + name + r"\(", models), f"no mart uses the macro {name}"
        assert formulas()(name, *["x"] * (0 if name.endswith("_days") else 2))
