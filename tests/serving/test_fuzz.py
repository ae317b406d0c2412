"""Fuzzing every endpoint's parameters (hypothesis): no input ever makes the API answer 500.

Each GET endpoint of the app's OpenAPI document is called with random query strings built
from the parameter names the API knows (and unknown ones) and hostile values: timestamps at
the ends of the calendar with time-zone offsets, huge integers, commas, control characters,
SQL, unicode. Every answer must be a success, a 404 (reports) or a 422 whose ``detail`` is
one line of text; never a 5xx. Runs against the real published DuckDB of conftest.py.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from petpro.vocabulary import ACTIVITY_TYPES

# Every GET endpoint of the API; test_every_endpoint_is_fuzzed keeps this list and NAMES complete.
ENDPOINTS = [
    "/analytics/customer-growth",
    "/analytics/customer-activity",
    "/analytics/customer-demographics",
    "/analytics/service-usage",
    "/analytics/customer-retention",
    "/activities/statistics",
    "/v2",
    "/v2/segments",
    "/v2/customer-growth",
    "/v2/customer-activity",
    "/v2/active-customers",
    "/v2/active-users",
    "/v2/customer-lifecycle",
    "/v2/activity-heatmap",
    "/v2/customer-demographics",
    "/v2/service-usage",
    "/v2/cohort-retention",
    "/v2/nday-retention",
    "/v2/retention-monthly",
    "/v2/repeat-customers",
    "/v2/customers/{customer_id}/recommendations",
    "/v2/services/{service_id}/likely-customers",
    "/v2/insights",
    "/v2/insights/kpis",
    "/v2/insights/alerts",
    "/reports",
    "/reports/{day}/{filename}",
    "/health",
    "/v2/segments/explore",
    "/v2/predictions/distributions",
    "/v2/customers/{customer_id}",
    "/activities/user/{userId}",
    "/activities/recent",
]

NAMES = [
    "start",
    "end",
    "startDate",
    "endDate",
    "interval",
    "groupBy",
    "activity_type",
    "age_group",
    "gender",
    "country",
    "city",
    "device_type",
    "pet_species",
    "dimension",
    "currency",
    "status",
    "service_category",
    "max_months",
    "date",
    "token",
    "dims",
    "metric",
    "page",
    "page_size",
    "direction",
    "limit",
]
WORDS = [
    "day",
    "week",
    "month",
    "year",
    "new",
    "dormant",
    "female",
    "DE",
    "none",
    "dog",
    "USD",
    "grooming",
    "country",
    "latest",
    "2024-04-10",
    "customer_growth.csv",
    "churn_band",
    "rfm_segment",
    "avg_expected_value_365d",
    "00000000-0000-4000-8000-000000000001",
    *ACTIVITY_TYPES[:5],
]


DATE_NAMES = {"start", "end", "startDate", "endDate", "date"}
EDGES = [datetime(1, 1, 1), datetime(1, 1, 1, 3, 30), datetime(9999, 12, 31, 20, 0), datetime.max]
ZONES = ["", "Z", "+05:00", "-05:00", "+14:00", "-12:00", "+00:00"]


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    # Biased to the ends of the calendar, where a time-zone shift leaves the representable range.
    moment = draw(st.one_of(st.sampled_from(EDGES), st.datetimes()))
    zone = draw(
        st.one_of(
            st.sampled_from(ZONES),
            st.builds(
                lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
                st.sampled_from("+-"),
                st.integers(0, 23),
                st.integers(0, 59),
            ),
        )
    )
    return moment.isoformat() + zone


anything = st.one_of(
    st.sampled_from(WORDS),
    st.dates().map(lambda d: d.isoformat()),
    timestamps(),
    st.integers().map(str),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(",".join),
    st.text(max_size=24),
    st.sampled_from(["", " ", ",", "%", "'; drop table x; --", "\x00", "1e999", "NaN", "٣"]),
)


def values_for(name: str) -> st.SearchStrategy[str]:
    """Values shaped for the parameter most of the time, anything otherwise."""
    if name in DATE_NAMES:
        return st.one_of(timestamps(), st.dates().map(lambda d: d.isoformat()), anything)
    if name == "max_months":
        return st.one_of(st.integers(-(10**20), 10**20).map(str), anything)
    return anything


queries = st.lists(
    st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=8)).flatmap(
        lambda name: st.tuples(st.just(name), values_for(name))
    ),
    max_size=4,
)
path_parts = st.one_of(
    st.sampled_from(
        [
            "2024-04-10",
            "latest",
            "customer_growth.csv",
            "manifest.json",
            "..",
            "00000000-0000-4000-8000-000000000001",
        ]
    ),
    st.text(min_size=1, max_size=24),
)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs on every run: a failure here is reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzz_client(module_published):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    # A 500 must show up as a status, not as an exception inside the test client.
    app = create_app(module_published.settings)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def admin(module_published):
    from serving.auth import mint_token

    return {"Authorization": f"Bearer {mint_token(module_published.settings, sub='fuzz')}"}


def test_every_endpoint_is_fuzzed(fuzz_client):
    spec = fuzz_client.get("/openapi.json").json()
    documented = {p for p, ops in spec["paths"].items() if "get" in ops}
    assert documented == set(ENDPOINTS)
    # Every documented query parameter is among the names the fuzzer draws.
    params = {
        p["name"]
        for ops in spec["paths"].values()
        for p in ops.get("get", {}).get("parameters", [])
        if p["in"] == "query"
    }
    assert params <= set(NAMES), params - set(NAMES)


def _check(client, headers, endpoint, query, day="2024-04-10", filename="x.csv"):
    day, filename = quote(day, safe=""), quote(filename, safe="")
    path = endpoint.format(
        day=day, filename=filename, customer_id=day, service_id=filename, userId=filename
    )
    r = client.get(path, params=query, headers=headers)
    assert r.status_code < 500, (path, query, r.status_code, r.text[:300])
    if r.status_code == 422:
        detail = r.json()["detail"]
        assert isinstance(detail, str) and detail.strip(), (path, query, detail)
        assert "\n" not in detail, (path, query, detail)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(endpoint=st.sampled_from(ENDPOINTS), data=st.data())
def test_each_parameter_alone(fuzz_client, admin, name, endpoint, data):
    value = data.draw(values_for(name), label="value")
    _check(fuzz_client, admin, endpoint, [(name, value)])


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@FUZZ
@given(query=queries, day=path_parts, filename=path_parts)
def test_random_queries(fuzz_client, admin, endpoint, query, day, filename):
    _check(fuzz_client, admin, endpoint, query, day, filename)
