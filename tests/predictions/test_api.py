"""The customer endpoints on the real scored publication: explorer numbers against an
independent pandas computation over the published marts (read with plain DuckDB), the
customer view, the activity history (pagination, roles, no personal data) and the audit trail."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from petpro.publication import current_version
from petpro.vocabulary import PII_COLUMNS
from serving.app import create_app
from serving.auth import mint_token

METADATA_KEYS = {"bookingId", "paymentId", "amount", "currency", "rating", "serviceType", "petId",
                 "species"}  # fmt: skip


@pytest.fixture(scope="module")
def client(predicted) -> TestClient:
    return TestClient(create_app(predicted.settings))


def bearer(predicted, role: str = "admin", sub: str = "tester") -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_token(predicted.settings, role=role, sub=sub)}


def published_mart(predicted, mart: str) -> pd.DataFrame:
    """A published mart as a pandas frame, read with plain DuckDB from the current version's
    file (the per-customer marts have no Parquet copy)."""
    database = current_version(predicted.settings.published_dir).database
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(f'select * from "{mart}"').df()


def test_explorer_counts_distinct_customers_like_an_independent_computation(
    predicted, client
) -> None:
    profile = published_mart(predicted, "mart_customer_profile")
    churn = published_mart(predicted, "mart_customer_churn_risk")
    summary = published_mart(predicted, "mart_customer_activity_summary")
    clv = published_mart(predicted, "mart_customer_clv")
    frame = (
        profile.merge(churn, on="customer_id", how="left")
        .merge(summary[["customer_id", "is_active_30d"]], on="customer_id", how="left")
        .merge(
            clv[["customer_id", "currency", "expected_value_365d"]], on="customer_id", how="left"
        )
    )
    frame["churn_band"] = frame["risk_band"].fillna("not_scored")
    frame["pet_species"] = frame["pet_species"].map(lambda s: list(s) if len(s) else ["none"])
    exploded = frame.explode("pet_species")
    expected = {}
    for (country, species, band), g in exploded.groupby(["country", "pet_species", "churn_band"]):
        p = g["churn_probability"].dropna()
        money = g.dropna(subset=["currency"]).groupby("currency")["expected_value_365d"].mean()
        expected[(country, species, band)] = (
            g["customer_id"].nunique(),
            int(g.loc[g["is_active_30d"] == True, "customer_id"].nunique()),  # noqa: E712
            None if p.empty else p.mean(),
            {c: v for c, v in money.items()},
        )
    r = client.get(
        "/v2/segments/explore?dims=country,pet_species,churn_band"
        "&metric=customers,active_customers_30d,avg_churn_probability,avg_expected_value_365d",
        headers=bearer(predicted, "analyst"),
    )
    assert r.status_code == 200, r.text
    got = {(d["country"], d["pet_species"], d["churn_band"]): d for d in r.json()["data"]}
    assert set(got) == set(expected)
    for key, (customers, active, avg_p, money) in expected.items():
        row = got[key]
        assert (row["customers"], row["active_customers_30d"]) == (customers, active), key
        assert (row["avg_churn_probability"] is None) == (avg_p is None)
        if avg_p is not None:
            assert row["avg_churn_probability"] == pytest.approx(avg_p, rel=1e-9)
        assert row["avg_expected_value_365d"].keys() == money.keys()
        for c, v in money.items():
            assert row["avg_expected_value_365d"][c] == pytest.approx(v, rel=1e-9)
    # Without pet_species a customer is counted (and averaged) once, whatever they own.
    r = client.get("/v2/segments/explore?dims=rfm_segment", headers=bearer(predicted))
    rfm = published_mart(predicted, "mart_customer_rfm")
    assert {d["rfm_segment"]: d["customers"] for d in r.json()["data"]} == (
        rfm.groupby("segment")["customer_id"].nunique().to_dict()
    )
    assert sum(d["customers"] for d in r.json()["data"]) == len(profile)


@pytest.mark.parametrize(
    "query",
    ["", "dims=", "dims=shoe_size", "dims=a,b,c,d", "dims=gender,gender",
     "dims=gender,age_group,country,city", "dims=gender&metric=revenue", "dims=gender&x=1"],
)  # fmt: skip
def test_explorer_bad_input_is_a_422_with_one_line(predicted, client, query) -> None:
    r = client.get(f"/v2/segments/explore?{query}", headers=bearer(predicted))
    assert r.status_code == 422 and "\n" not in r.json()["detail"], r.text


def test_customer_view_has_predictions_and_no_personal_data(predicted, client) -> None:
    churn = published_mart(predicted, "mart_customer_churn_risk")
    top = churn.sort_values(["churn_probability", "customer_id"]).iloc[0]
    r = client.get(f"/v2/customers/{top.customer_id}", headers=bearer(predicted, "analyst"))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["churn_risk"]["churn_probability"] == pytest.approx(top.churn_probability)
    assert data["profile"]["customer_id"] == top.customer_id
    assert set(data) == {"profile", "segments", "activity_summary", "rfm", "churn_risk",
                         "lifetime_value", "recent_activity"}  # fmt: skip
    assert 0 < len(data["recent_activity"]) <= 10
    text = json.dumps(data).lower()
    assert not [c for c in PII_COLUMNS if f'"{c}"' in text]
    with __import__("psycopg").connect(predicted.source_url) as conn:
        email, phone = conn.execute(
            "select email, phone from users where id = %s", (top.customer_id,)
        ).fetchone()
    assert email.lower() not in text and (phone is None or phone not in text)
    assert client.get("/v2/customers/not-a-uuid", headers=bearer(predicted)).status_code == 422
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v2/customers/{missing}", headers=bearer(predicted)).status_code == 404


def test_activity_history_pages_newest_first_and_respects_roles(predicted, client) -> None:
    log = published_mart(predicted, "mart_customer_activity_log")
    busiest = log["customer_id"].value_counts().index[0]
    mine = log[log["customer_id"] == busiest].sort_values(
        ["activity_at", "activity_id"], ascending=False
    )
    seen = []
    page = 1
    while True:
        r = client.get(
            f"/activities/user/{busiest}?page={page}&page_size=7",
            headers=bearer(predicted, "customer", sub=busiest),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["meta"]["total"] == len(mine)
        if not body["data"]:
            break
        seen += [a["activity_id"] for a in body["data"]]
        for a in body["data"]:
            assert set(a) == {"activity_id", "activity_type", "activity_at", "description",
                              "device_type", "metadata"}  # fmt: skip
            assert set(a["metadata"]) <= METADATA_KEYS
        page += 1
    assert seen == list(mine["activity_id"])
    other = bearer(predicted, "customer", sub="00000000-0000-4000-8000-000000000000")
    assert client.get(f"/activities/user/{busiest}", headers=other).status_code == 403
    assert (
        client.get(f"/activities/user/{busiest}?page=0", headers=bearer(predicted)).status_code
        == 422
    )
    # Recent activities: admin only, newest first across customers.
    assert client.get("/activities/recent", headers=bearer(predicted, "analyst")).status_code == 403
    r = client.get("/activities/recent?limit=5", headers=bearer(predicted))
    assert r.status_code == 200
    newest = log.sort_values(["activity_at", "activity_id"], ascending=False).head(5)
    assert [a["activity_id"] for a in r.json()["data"]] == list(newest["activity_id"])
    # Every call above is in the audit trail, the refused ones too.
    records = [json.loads(line) for line in predicted.settings.audit_log.read_text().splitlines()]
    paths = {(r["endpoint"].split("?")[0], r["status"]) for r in records}
    assert (f"/activities/user/{busiest}", 200) in paths
    assert (f"/activities/user/{busiest}", 403) in paths
    assert ("/activities/recent", 403) in paths and ("/activities/recent", 200) in paths


def test_activity_log_metadata_never_carries_personal_data(predicted) -> None:
    log = published_mart(predicted, "mart_customer_activity_log")
    assert not set(log.columns) & PII_COLUMNS
    keys = set()
    for text in log["metadata"]:
        keys |= set(json.loads(text))
    assert keys <= METADATA_KEYS
    assert log.groupby("customer_id").size().max() <= 100
