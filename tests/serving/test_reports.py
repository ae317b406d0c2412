"""Report downloads: manifest listing, content types, checksums, 304, and no path traversal."""

from __future__ import annotations

import hashlib

import pytest


def test_manifest_listing(client, analyst, published):
    body = client.get("/reports", headers=analyst).json()
    assert body["latest"] == "2024-04-10" and body["dates"] == ["2024-04-10"]
    files = {f["file"]: f for f in body["files"]}
    assert set(files) == {"customer_growth.csv", "customer_growth.parquet", "customer_growth.xlsx"}
    for name, digest in published.digests.items():
        assert files[name]["sha256"] == digest
        assert files[name]["url"] == f"/reports/2024-04-10/{name}"


@pytest.mark.parametrize(
    ("name", "ctype"),
    [
        ("customer_growth.csv", "text/csv; charset=utf-8"),
        ("customer_growth.parquet", "application/vnd.apache.parquet"),
        (
            "customer_growth.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    ],
)
@pytest.mark.parametrize("day", ["2024-04-10", "latest"])
def test_download(client, analyst, published, name, ctype, day):
    r = client.get(f"/reports/{day}/{name}", headers=analyst)
    assert r.status_code == 200
    assert r.headers["content-type"] == ctype
    digest = hashlib.sha256(r.content).hexdigest()
    # The body is the file on disk, and the header is the manifest's checksum of it.
    assert (
        digest
        == hashlib.sha256(
            (published.settings.exports_dir / "2024-04-10" / name).read_bytes()
        ).hexdigest()
    )
    assert r.headers["x-checksum-sha256"] == published.digests[name] == digest
    assert r.headers["etag"] == f'"{digest}"'
    assert "attachment" in r.headers["content-disposition"]
    again = client.get(
        f"/reports/{day}/{name}", headers={**analyst, "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/reports/2024-04-10/secret.txt",  # exists on disk, not in the manifest
        "/reports/2024-04-10/manifest.json",
        "/reports/2024-04-10/..%2F..%2Fpublished%2Fwarehouse.duckdb",
        "/reports/..%2F2024-04-10/customer_growth.csv",
        "/reports/2024-04-10/%2Fetc%2Fpasswd.csv",
        "/reports/2024-4-10/customer_growth.csv",
        "/reports/2024-04-11/customer_growth.csv",
        "/reports/2024-04-10/other_report.csv",
        "/reports/2024-04-10/customer_growth.exe",
    ],
)
def test_no_traversal(client, analyst, path):
    r = client.get(path, headers=analyst)
    assert r.status_code == 404, (path, r.status_code)
    assert b"not listed" not in r.content


def test_download_needs_auth(client, token):
    assert client.get("/reports/latest/customer_growth.csv").status_code == 401
    customer = {"Authorization": f"Bearer {token(role='customer')}"}
    assert client.get("/reports/latest/customer_growth.csv", headers=customer).status_code == 403


def test_health(client, serving_settings):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["run_id"] == "run-1"
    assert body["high_water_mark"] == "2024-04-10T12:00:00+00:00"
    assert body["publication_age_seconds"] >= 0
    assert body["marts"]["mart_customer_profile"] == 6


def test_health_503_when_nothing_published(serving_settings, analyst):
    from fastapi.testclient import TestClient

    from serving.app import create_app

    with TestClient(create_app(serving_settings)) as c:
        r = c.get("/health")
        assert r.status_code == 503 and "nothing is published" in r.json()["detail"]
        assert c.get("/v2/customer-growth", headers=analyst).status_code == 503
