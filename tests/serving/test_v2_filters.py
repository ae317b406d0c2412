"""v2 endpoints: exact distinct-customer counts under demographic and activity filters.

Counts are worked out by hand from the six customers of tests/serving/conftest.py:
female = C1, C3, C6; DE = C1, C2, C6; dog owners = C1, C2, C6; no pet = C3; cat = C2, C4.
"""

from __future__ import annotations


def _data(client, headers, path, **params):
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_active_customers_by_gender_exact(client, analyst):
    # Female customers active per month: Jan C1; Feb C1 C3; Mar C1 (03-15) C3 (03-04) C6 (03-28);
    # Apr C1 (04-02) C6 (04-01).
    rows = _data(client, analyst, "/v2/active-customers", interval="month", gender="female")
    assert [(r["period_start"], r["active_customers"]) for r in rows] == [
        ("2024-01-01", 1),
        ("2024-02-01", 2),
        ("2024-03-01", 3),
        ("2024-04-01", 2),
    ]


def test_distinct_customers_not_summed_across_types(client, analyst):
    # February, dog owners, booking_created or payment_made: C1 did both, C2 booked -> 2 customers,
    # while the per-type counts add up to 3 (booking C1 C2, payment C1).
    both = ["booking_created", "payment_made"]
    rows = _data(
        client,
        analyst,
        "/v2/active-customers",
        interval="month",
        start="2024-02-01",
        end="2024-02-29",
        pet_species="dog",
        activity_type=both,
    )
    assert rows == [{"period_start": "2024-02-01", "active_customers": 2, "events": 3}]
    per_type = _data(
        client,
        analyst,
        "/v2/customer-activity",
        interval="month",
        start="2024-02-01",
        end="2024-02-29",
        pet_species="dog",
        activity_type=both,
    )
    assert {r["activity_type"]: r["active_customers"] for r in per_type} == {
        "booking_created": 2,
        "payment_made": 1,
    }


def test_segment_or_within_and_across(client, analyst):
    # pet_species in (cat, none) -> C2 C3 C4; AND country FR -> C3 C4. Active in Feb: C3, C4;
    # events C3 1 + 2, C4 1 + 1 = 5.
    rows = _data(
        client,
        analyst,
        "/v2/active-customers",
        interval="month",
        start="2024-02-01",
        end="2024-02-29",
        pet_species="cat,none",
        country="FR",
    )
    assert rows == [{"period_start": "2024-02-01", "active_customers": 2, "events": 5}]


def test_growth_with_country_filter(client, analyst):
    # DE = C1 (Jan), C2 (Jan), C6 (Mar).
    rows = _data(client, analyst, "/v2/customer-growth", interval="month", country="DE")
    got = [
        (
            r["period_start"],
            r["new_customers"],
            r["cumulative_customers"],
            r["growth_rate"],
            r["active_customers"],
        )
        for r in rows
    ]
    assert got == [
        ("2024-01-01", 2, 2, None, 2),
        ("2024-02-01", 0, 2, -1.0, 2),
        ("2024-03-01", 1, 3, None, 3),
        ("2024-04-01", 0, 3, -1.0, 2),
    ]
    assert [r["is_complete"] for r in rows] == [True, True, True, False]


def test_growth_unfiltered_reads_the_mart(client, analyst):
    body = client.get("/v2/customer-growth", params={"interval": "month"}, headers=analyst).json()
    assert body["meta"]["computed_from"] == "mart"
    assert [
        (r["period_start"], r["new_customers"], r["active_customers"]) for r in body["data"]
    ] == [
        ("2024-01-01", 2, 2),
        ("2024-02-01", 2, 4),
        ("2024-03-01", 2, 5),
        ("2024-04-01", 0, 3),
    ]


def test_active_users_rolling_windows_with_segment(client, analyst):
    # 2024-04-01, female: DAU C6; WAU (03-26..04-01) C6; MAU (03-03..04-01) C1 C3 C6.
    rows = _data(
        client, analyst, "/v2/active-users", start="2024-04-01", end="2024-04-01", gender="female"
    )
    assert rows == [
        {"activity_date": "2024-04-01", "dau": 1, "wau": 1, "mau": 3, "stickiness": 1 / 3}
    ]


def test_demographics_cross_tab(client, analyst):
    # Women by country: DE C1 C6, FR C3; active in the 30 days to 2024-04-10: C1, C6 (C3 last 03-04).
    rows = _data(client, analyst, "/v2/customer-demographics", gender="female", dimension="country")
    assert [(r["segment"], r["customers"], r["active_customers_30d"]) for r in rows] == [
        ("DE", 2, 2),
        ("FR", 1, 0),
    ]
    assert abs(rows[0]["share_of_customers"] - 2 / 3) < 1e-12


def test_retention_monthly_with_segment(client, analyst):
    # Women engaged: Jan C1 (retained in Feb: C1) -> 1/1; Feb C1 C3, neither engaged in March -> 0/2.
    rows = _data(client, analyst, "/v2/retention-monthly", gender="female")
    assert [
        (r["month"], r["engaged_customers"], r["retained_customers"], r["retention_rate"])
        for r in rows
    ] == [
        ("2024-01-01", 1, 1, 1.0),
        ("2024-02-01", 2, 0, 0.0),
    ]


def test_every_mart_has_a_v2_endpoint(client, analyst):
    index = client.get("/v2", headers=analyst).json()["data"]
    marts = {e["mart"] for e in index}
    for mart in (
        "mart_customer_growth",
        "mart_customer_activity",
        "mart_active_users",
        "mart_customer_lifecycle",
        "mart_activity_heatmap",
        "mart_customer_demographics",
        "mart_service_usage",
        "mart_cohort_retention",
        "mart_nday_retention",
        "mart_retention_monthly",
        "mart_repeat_customers",
    ):
        assert mart in marts
    for entry in index:
        r = client.get(entry["path"], headers=analyst)
        assert r.status_code == 200, (entry["path"], r.text)
        assert isinstance(r.json()["data"], list)


def test_service_usage_filters(client, analyst):
    rows = _data(
        client, analyst, "/v2/service-usage", currency="EUR", start="2024-03-01", end="2024-03-31"
    )
    assert [(r["month"], r["service_category"], r["bookings"], r["net_revenue"]) for r in rows] == [
        ("2024-03-01", "veterinary", 3, "275.25")
    ]
