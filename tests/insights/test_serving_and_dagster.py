"""The insights reach people: ``/v2/insights`` over the real publication, and the Dagster asset.

Both read the incident history's publication (copied into a private home); the expected
values are the incidents' days and the request's own filters.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from petpro.settings import Settings

from .conftest import IncidentHistory

SECRET = "insights-test-secret-0123456789abcdef0123456789abcdef"


def client(settings: Settings) -> tuple[TestClient, dict[str, str]]:
    from serving.app import create_app
    from serving.auth import mint_token

    settings = settings.model_copy(update={"jwt_secret": SECRET})
    token = mint_token(settings, role="analyst", sub="insights-test", ttl_hours=1)
    return TestClient(create_app(settings)), {"Authorization": f"Bearer {token}"}


def test_v2_insights_filters_by_metric_dates_and_direction(
    incident_history: IncidentHistory, history_home: Settings
) -> None:
    api, auth = client(history_home)
    drop = incident_history.incidents["booking_drop"]
    with api:
        answer = api.get(
            "/v2/insights",
            params={"metric": "bookings_created", "start": "2026-06-01", "end": drop.isoformat()},
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        days = [r["metric_date"] for r in data["anomalies"]]
        assert days[0] == "2026-06-01" and days[-1] == drop.isoformat()
        assert {r["metric"] for r in data["anomalies"]} == {"bookings_created"}
        assert {r["metric"] for r in data["trends"]} == {"bookings_created"}
        flagged = [r for r in data["anomalies"] if r["is_anomaly"]]
        assert drop.isoformat() in [r["metric_date"] for r in flagged]

        down = api.get("/v2/insights", params={"direction": "down"}, headers=auth).json()["data"]
        assert down["anomalies"] and all(
            r["is_anomaly"] and r["direction"] == "down" for r in down["anomalies"]
        )
        kpis = api.get("/v2/insights/kpis", params={"interval": "week"}, headers=auth).json()
        assert {k["interval"] for k in kpis["data"]} == {"week"}
        assert len({k["period_start"] for k in kpis["data"]}) == 1
        for bad in ({"metric": "revenue_of_mars"}, {"direction": "sideways"},
                    {"start": "2026-07-01", "end": "2026-06-01"}, {"bogus": "1"}):  # fmt: skip
            wrong = api.get("/v2/insights", params=bad, headers=auth)
            assert wrong.status_code == 422 and "\n" not in wrong.json()["detail"], bad
        assert api.get("/v2/insights").status_code == 401


def test_the_dagster_asset_raises_the_alerts_into_its_metadata(
    incident_history: IncidentHistory, history_home: Settings
) -> None:
    from dagster import materialize

    from orchestration.defs.insights import METRIC_ALERTS_KEY, metric_alerts
    from orchestration.resources import PetProSettings

    resources = {"petpro": PetProSettings()}
    result = materialize([metric_alerts], resources=resources)
    assert result.success
    (event,) = result.asset_materializations_for_node(METRIC_ALERTS_KEY.path[-1])
    alerts = event.metadata["alerts"].value
    drop = incident_history.incidents["booking_drop"].isoformat()
    assert any(a["id"] == f"{drop}-bookings_created" for a in alerts)
    assert event.metadata["new_alerts"].value == len(alerts) > 0
    again = materialize([metric_alerts], resources=resources)
    (second,) = again.asset_materializations_for_node(METRIC_ALERTS_KEY.path[-1])
    assert second.metadata["new_alerts"].value == 0

    api, auth = client(history_home)
    with api:
        listed = api.get("/v2/insights/alerts", headers=auth).json()["data"]
    assert {a["id"] for a in listed} >= {a["id"] for a in alerts}
