"""Auth (JWT, API keys, roles), validation (422) and the audit trail."""

from __future__ import annotations

import json
import time

import jwt
import pytest

from serving.auth import mint_token

GROWTH = "/v2/customer-growth"


def _audit(settings) -> list[dict]:
    return [json.loads(line) for line in settings.audit_log.read_text().splitlines()]


def test_roles(client, token, analyst):
    assert client.get(GROWTH, headers={"Authorization": f"Bearer {token()}"}).status_code == 200
    assert (
        client.get(GROWTH, headers={"Authorization": f"Bearer {token(role='analyst')}"}).status_code
        == 200
    )
    assert client.get(GROWTH, headers=analyst).status_code == 200
    assert (
        client.get(GROWTH, headers={"Authorization": "Bearer analyst-key-abc"}).status_code == 200
    )
    assert client.get("/reports", headers=analyst).status_code == 200
    r = client.get(GROWTH, headers={"Authorization": f"Bearer {token(role='customer')}"})
    assert r.status_code == 403
    assert client.get(GROWTH, headers={"X-API-Key": "viewer-key-xyz"}).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "wrong"},
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "admin", "exp": int(time.time()) + 60},
                "other-secret-0123456789abcdef0123456789",
                algorithm="HS256",
            )
        },
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "admin"},
                "test-jwt-secret-0123456789abcdef0123456789abcdef",
                algorithm="HS256",
            )
        },
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "admin", "exp": int(time.time()) + 60},
                "test-jwt-secret-0123456789abcdef0123456789abcdef",
                algorithm="HS512",
            )
        },
    ],
    ids=[
        "missing",
        "unknown-key",
        "basic",
        "wrong-x-api-key",
        "bad-signature",
        "no-exp",
        "wrong-alg",
    ],
)
def test_unauthorized(client, headers):
    r = client.get(GROWTH, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"


def test_expired_token(client, serving_settings):
    expired = mint_token(serving_settings, role="admin", sub="old", ttl_hours=-1)
    r = client.get(GROWTH, headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_jwt_disabled_without_secret(published, monkeypatch, analyst):
    from fastapi.testclient import TestClient

    from petpro.settings import get_settings
    from serving.app import create_app

    tok = mint_token(published.settings, role="admin")
    monkeypatch.setenv("PETPRO_JWT_SECRET", "")
    with TestClient(create_app(get_settings())) as c:
        assert c.get(GROWTH, headers={"Authorization": f"Bearer {tok}"}).status_code == 401
        assert c.get(GROWTH, headers=analyst).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "needle"),
    [
        (GROWTH, {"start": "2024-13-01"}, "not a date"),
        (GROWTH, {"start": "yesterday"}, "not a date"),
        (GROWTH, {"start": "2024-03-01", "end": "2024-01-01"}, "reversed"),
        (GROWTH, {"start": "2000-01-01", "end": "2024-01-01"}, "ten years"),
        (GROWTH, {"interval": "year"}, "interval"),
        (GROWTH, {"activity_type": "login,hacking"}, "unknown activity type"),
        (GROWTH, {"gender'; drop table x; --": "1"}, "unknown parameter"),
        ("/v2/service-usage", {"gender": "female"}, "not available"),
        ("/v2/customer-demographics", {"dimension": "income"}, "dimension"),
        ("/v2/cohort-retention", {"max_months": "-1"}, "max_months"),
        (
            "/analytics/customer-growth",
            {"startDate": "2024-02-01", "endDate": "2024-01-01"},
            "reversed",
        ),
        ("/analytics/customer-activity", {"interval": "hour"}, "interval"),
        ("/activities/statistics", {"groupBy": "quarter"}, "groupBy"),
    ],
)
def test_validation_422(client, admin, path, params, needle):
    r = client.get(path, params=params, headers=admin)
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"]


def test_injection_attempt_is_just_a_value(client, analyst):
    # A segment value is a bound parameter: it matches nothing, and the table is still there.
    r = client.get("/v2/active-customers", params={"country": "DE') or 1=1 --"}, headers=analyst)
    assert r.status_code == 200
    assert r.json()["data"] == []
    assert client.get("/v2/active-customers", headers=analyst).json()["data"]


def test_audit_records(client, published, analyst, token):
    client.get(GROWTH, params={"interval": "month", "gender": "female"}, headers=analyst)
    client.get(GROWTH, headers={"Authorization": "Bearer forged"})
    client.get(
        "/analytics/customer-retention",
        headers={"Authorization": f"Bearer {token(role='analyst', sub='ana')}"},
    )
    client.get("/health")  # not audited
    records = _audit(published.settings)
    assert len(records) == 3
    ok, failed, forbidden = records
    assert ok["subject"] == "apikey:etl-analyst" and ok["role"] == "analyst"
    assert ok["endpoint"] == GROWTH and ok["status"] == 200
    assert ok["params"] == {"interval": "month", "gender": "female"}
    assert ok["rows"] == 4  # four months of female growth
    assert ok["publication"] == "run-1"
    assert (
        failed["status"] == 401 and failed["event"] == "auth_failed" and failed["subject"] is None
    )
    assert "unknown API key" in failed["reason"]
    assert (
        forbidden["status"] == 403
        and forbidden["subject"] == "ana"
        and forbidden["event"] == "forbidden"
    )
    for r in records:
        assert r["time"].endswith("+00:00")


def test_audit_is_append_only_lines(client, published, analyst):
    for _ in range(5):
        client.get("/reports", headers=analyst)
    text = published.settings.audit_log.read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 5
    assert oct(published.settings.audit_log.stat().st_mode & 0o777) == "0o600"


def test_petpro_audit_command(client, published, analyst):
    from typer.testing import CliRunner

    from cli.main import app

    client.get(GROWTH, headers=analyst)
    client.get(GROWTH, headers={"X-API-Key": "nope"})
    result = CliRunner().invoke(app, ["audit", "--since", "1h"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "apikey:etl-analyst" in result.output and "401" in result.output
    assert "2 record(s)" in result.output
    result = CliRunner().invoke(app, ["audit", "--since", "2999-01-01"], env={"COLUMNS": "200"})
    assert "0 record(s)" in result.output


def test_caching_etag_304(client, analyst, fixture_tools, published):
    params = {"interval": "month", "country": "DE"}
    first = client.get(GROWTH, params=params, headers=analyst)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = client.get(GROWTH, params=params, headers={**analyst, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get(
        GROWTH, params={"interval": "week"}, headers={**analyst, "If-None-Match": etag}
    )
    assert other.status_code == 200
    # A new publication changes the ETag even when the answer is the same.
    fixture_tools["build_publication"](published.settings, run_id="run-2")
    after = client.get(GROWTH, params=params, headers={**analyst, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["etag"] != etag
    assert after.headers["x-publication"] == "run-2"
