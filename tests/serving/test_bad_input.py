"""Bad input at the API: a one-line 422 for every unusable value, secrets kept out of the audit log."""

from __future__ import annotations

import json

import pytest

ANALYST_KEY = "analyst-key-abc"  # conftest's analyst API key


def _audit(settings) -> list[dict]:
    return [json.loads(line) for line in settings.audit_log.read_text().splitlines()]


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        # 0001-01-01 00:00 at +05:00 is 0000-12-31 19:00 UTC: before the first representable day.
        ("/v2/customer-growth", {"start": "0001-01-01T00:00:00+05:00"}, "start="),
        ("/v2/customer-growth", {"end": "9999-12-31T23:59:59-05:00"}, "end="),
        (
            "/analytics/customer-growth",
            {"startDate": "0001-01-01T00:00:00.000+14:00", "interval": "month"},
            "startDate=",
        ),
        ("/activities/statistics", {"endDate": "9999-12-31T20:00:00-12:00"}, "endDate="),
    ],
)
def test_timestamp_overflowing_the_time_zone_is_422(client, admin, path, params, needle):
    r = client.get(path, params=params, headers=admin)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and needle in detail and "\n" not in detail


def test_connection_survives_a_rejected_timestamp(live_server, admin):
    # Once a 500 reset the keep-alive connection; the next request on it must still work.
    import httpx

    with httpx.Client(base_url=live_server, headers=admin) as http:
        bad = http.get("/v2/customer-growth", params={"start": "0001-01-01T00:00:00+05:00"})
        assert bad.status_code == 422
        good = http.get("/v2/customer-growth", params={"interval": "month"})
        assert good.status_code == 200 and len(good.json()["data"]) == 4


def test_audit_log_redacts_credentials_and_caps_values(client, published, token):
    jwt_token = token(role="analyst", sub="leaky")
    long_value = "x" * 5000
    client.get(
        "/v2/customer-growth",
        params={"token": jwt_token, "interval": "month"},
        headers={"X-API-Key": ANALYST_KEY},
    )
    client.get(
        "/v2/customer-growth",
        params=[("country", jwt_token), ("api_key", ANALYST_KEY), ("city", long_value)],
        headers={"X-API-Key": ANALYST_KEY},
    )
    client.get("/v2/customer-growth", params={"access_token": jwt_token})  # 401 is audited too
    text = published.settings.audit_log.read_text()
    assert jwt_token not in text
    assert jwt_token.split(".")[2] not in text  # not even the signature part
    assert ANALYST_KEY not in text
    assert long_value not in text
    first, second, third = _audit(published.settings)
    assert first["params"]["token"] == "[redacted]"
    assert first["params"]["interval"] == "month"  # ordinary values stay as they were
    assert second["params"]["country"] == "[redacted]"  # a JWT is redacted under any name
    assert second["params"]["api_key"] == "[redacted]"
    assert len(second["params"]["city"]) < 300 and second["params"]["city"].startswith("xxx")
    assert third["status"] == 401 and third["params"]["access_token"] == "[redacted]"
