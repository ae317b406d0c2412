"""The endpoints the existing admin dashboard calls, against hand-computed answers.

Six customers C1..C6 (tests/serving/conftest.py). Expected values below were worked out by
hand from those rows; the comment above each says how.
"""

from __future__ import annotations

C1 = "00000000-0000-4000-8000-000000000001"
C2 = "00000000-0000-4000-8000-000000000002"
C3 = "00000000-0000-4000-8000-000000000003"
C4 = "00000000-0000-4000-8000-000000000004"
C5 = "00000000-0000-4000-8000-000000000005"
C6 = "00000000-0000-4000-8000-000000000006"


def test_customer_growth_monthly(client, admin):
    # Signups: C1 01-05, C2 01-20, C3 02-03, C4 02-15, C5 03-01, C6 03-28.
    r = client.get(
        "/analytics/customer-growth",
        params={"startDate": "2024-01-01", "endDate": "2024-03-31", "interval": "month"},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json() == [
        {"date": "2024-01-01", "count": 2},
        {"date": "2024-02-01", "count": 2},
        {"date": "2024-03-01", "count": 2},
    ]


def test_customer_growth_weekly_iso_weeks_and_js_timestamps(client, admin):
    # ISO weeks (Monday): 01-05 -> 01-01, 01-20 -> 01-15, 02-03 -> 01-29, 02-15 -> 02-12.
    # The range starts mid-week (01-03) so the week of 01-01 is reported whole; empty weeks omitted.
    r = client.get(
        "/analytics/customer-growth",
        params={
            "startDate": "2024-01-03T00:00:00.000Z",
            "endDate": "2024-02-14T00:00:00.000Z",
            "interval": "week",
        },
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json() == [
        {"date": "2024-01-01", "count": 1},
        {"date": "2024-01-15", "count": 1},
        {"date": "2024-01-29", "count": 1},
        {"date": "2024-02-12", "count": 1},
    ]


def test_customer_activity(client, admin):
    # January: account_created C1+C2 = 2, booking_created C1 = 1, login 2 (C1) + 3 (C2) = 5.
    # February: account_created C3+C4 = 2, booking_created C1 1 + C2 1 + C3 2 = 4,
    # login C4 = 1, payment_made C1 = 1.
    r = client.get(
        "/analytics/customer-activity",
        params={"startDate": "2024-01-01", "endDate": "2024-02-29", "interval": "month"},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json() == [
        {"date": "2024-01-01", "activity_type": "account_created", "count": 2},
        {"date": "2024-01-01", "activity_type": "booking_created", "count": 1},
        {"date": "2024-01-01", "activity_type": "login", "count": 5},
        {"date": "2024-02-01", "activity_type": "account_created", "count": 2},
        {"date": "2024-02-01", "activity_type": "booking_created", "count": 4},
        {"date": "2024-02-01", "activity_type": "login", "count": 1},
        {"date": "2024-02-01", "activity_type": "payment_made", "count": 1},
    ]


def test_activity_statistics_daily(client, admin):
    # 2024-03-02..03-04: C5 booking_created 3 (03-02), C5 payment_made 2 (03-03), C3 login 1 (03-04).
    r = client.get(
        "/activities/statistics",
        params={"groupBy": "day", "startDate": "2024-03-02", "endDate": "2024-03-04"},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json() == [
        {"period": "2024-03-02", "type": "booking_created", "count": 3},
        {"period": "2024-03-03", "type": "payment_made", "count": 2},
        {"period": "2024-03-04", "type": "login", "count": 1},
    ]


def test_customer_demographics(client, admin):
    r = client.get("/analytics/customer-demographics", headers=admin)
    assert r.status_code == 200
    body = r.json()
    # Owners per species: dog C1 C2 C6, cat C2 C4, bird C5 (C3 has no pet and is not a type).
    assert body["petTypesData"] == [
        {"type": "dog", "count": 3},
        {"type": "cat", "count": 2},
        {"type": "bird", "count": 1},
    ]
    assert body["registrationByMonth"] == [
        {"month": "2024-01-01", "count": 2},
        {"month": "2024-02-01", "count": 2},
        {"month": "2024-03-01", "count": 2},
    ]
    # Events per customer: C5 12, C1 8, C2 6, C3 4, C4 2, C6 2 (tie broken by id).
    assert body["topActiveUsers"] == [
        {"userId": C5, "activity_count": 12},
        {"userId": C1, "activity_count": 8},
        {"userId": C2, "activity_count": 6},
        {"userId": C3, "activity_count": 4},
        {"userId": C4, "activity_count": 2},
        {"userId": C6, "activity_count": 2},
    ]


def test_service_usage_revenue_per_currency(client, admin):
    # Months February and March (the range starts mid-February): veterinary 2 + 3, grooming 1,
    # walking 1; revenue never mixes EUR and USD.
    r = client.get(
        "/analytics/service-usage",
        params={"startDate": "2024-02-10", "endDate": "2024-03-31"},
        headers=admin,
    )
    assert r.status_code == 200
    assert r.json() == {
        "bookingsByType": [
            {"service_type": "veterinary", "count": 5},
            {"service_type": "grooming", "count": 1},
            {"service_type": "walking", "count": 1},
        ],
        "monthlyRevenue": [
            {"month": "2024-02-01", "currency": "EUR", "total_amount": "200.50"},
            {"month": "2024-02-01", "currency": "USD", "total_amount": "50.00"},
            {"month": "2024-03-01", "currency": "EUR", "total_amount": "300.25"},
            {"month": "2024-03-01", "currency": "USD", "total_amount": "20.00"},
        ],
    }


def test_customer_retention(client, admin):
    r = client.get("/analytics/customer-retention", headers=admin)
    assert r.status_code == 200
    body = r.json()
    # Bookings so far: C5 5, C1 3, C3 2 (C2 has one, C4 and C6 none).
    assert body["customersWithMultipleBookings"] == [
        {"id": C5, "booking_count": 5},
        {"id": C1, "booking_count": 3},
        {"id": C3, "booking_count": 2},
    ]
    # Engaged in Feb: C1 C2 C3; of those engaged in March: C2 -> 1/3 = 33.33 %.
    # Engaged in Jan: C1; in Feb: C1 -> 100 %. Newest first.
    assert body["retentionByMonth"] == [
        {"month": "2024-02-01", "total_users": 3, "retained_users": 1, "retention_rate": 33.33},
        {"month": "2024-01-01", "total_users": 1, "retained_users": 1, "retention_rate": 100.0},
    ]


def test_compatible_endpoints_are_admin_only(client, analyst, token):
    for path in (
        "/analytics/customer-growth",
        "/analytics/customer-activity",
        "/analytics/customer-demographics",
        "/analytics/service-usage",
        "/analytics/customer-retention",
        "/activities/statistics",
    ):
        assert client.get(path, headers=analyst).status_code == 403, path
        jwt_analyst = {"Authorization": f"Bearer {token(role='analyst')}"}
        assert client.get(path, headers=jwt_analyst).status_code == 403, path
        assert client.get(path).status_code == 401, path
