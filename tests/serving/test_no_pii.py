"""No personal data leaves the API, even if a publication were to carry some by mistake."""

from __future__ import annotations

import json
import re

import duckdb
import pytest

PII_KEYS = {
    "first_name",
    "last_name",
    "firstName",
    "lastName",
    "email",
    "phone",
    "password_hash",
    "ip_address",
    "ip",
    "user_agent",
    "date_of_birth",
    "street",
    "postal_code",
    "name",
}
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PLANTED = ["Alice", "Liddell", "alice@example.com", "+49 30 1234567", "Wonderland Str. 1"]


def _keys(node, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(node, list):
        for v in node:
            _keys(v, out)
    return out


@pytest.fixture
def leaky(published):
    # Simulate a publication that wrongly carries PII columns: the API must still not show them.
    con = duckdb.connect(str(published.settings.published_db))
    for col in ("first_name", "last_name", "email", "phone", "street"):
        con.execute(f"alter table mart_customer_profile add column {col} VARCHAR")
    con.execute(
        "update mart_customer_profile set first_name = ?, last_name = ?, email = ?, phone = ?, street = ?",
        PLANTED,
    )
    con.execute("alter table mart_customer_activity_daily add column ip_address VARCHAR")
    con.execute("update mart_customer_activity_daily set ip_address = '203.0.113.7'")
    con.close()
    return published


def test_no_pii_in_any_response(leaky, admin):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(leaky.settings)) as c:
        v2 = [e["path"] for e in c.get("/v2", headers=admin).json()["data"]]
        paths = [
            "/analytics/customer-growth?startDate=2024-01-01&endDate=2024-04-30&interval=week",
            "/analytics/customer-activity?startDate=2024-01-01&endDate=2024-04-30&interval=day",
            "/analytics/customer-demographics",
            "/analytics/service-usage?startDate=2024-01-01&endDate=2024-04-30",
            "/analytics/customer-retention",
            "/activities/statistics?groupBy=week&startDate=2024-01-01&endDate=2024-04-30",
            "/v2/segments",
            "/reports",
            "/health",
            *v2,
            *[
                f"{p}?gender=female"
                for p in v2
                if p in ("/v2/customer-growth", "/v2/active-customers", "/v2/customer-demographics")
            ],
        ]
        for path in paths:
            r = c.get(path, headers=admin)
            assert r.status_code == 200, (path, r.text)
            text = r.text
            assert not EMAIL.search(text), path
            assert "203.0.113" not in text, path
            for planted in PLANTED:
                assert planted not in text, (path, planted)
            leaked = _keys(json.loads(text), set()) & PII_KEYS
            assert not leaked, (path, leaked)
