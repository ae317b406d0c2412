"""Each simulated incident is found on its day; normal simulated days raise no anomaly.

The history is made by the real simulator (tests/insights/conftest.py), published with the
insights step; the expectations are the incidents' definitions (which metric they break and
in which direction), not values computed by the code under test.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from insights.marts import ANOMALIES_MART, ANOMALIES_SCHEMA, TRENDS_MART, TRENDS_SCHEMA
from petpro.publication import open_current
from petpro.vocabulary import CONTRACT_MARTS

from .conftest import IncidentHistory

# What each incident breaks, by its definition in sourcedb/simulate.py.
SYMPTOMS = {
    "payment_outage": ("failed_payments", "up"),
    "signup_spike": ("new_customers", "up"),
    "booking_drop": ("bookings_created", "down"),
}


def anomalies(history: IncidentHistory, where: str = "true", params: list | None = None) -> list:
    with open_current(history.settings.published_dir) as opened:
        return opened.con.execute(
            f"select metric_date, metric, currency, direction, score from {ANOMALIES_MART} "
            f"where is_anomaly and {where} order by metric_date, metric",
            params or [],
        ).fetchall()


@pytest.mark.parametrize("incident", sorted(SYMPTOMS))
def test_each_incident_is_found_on_its_day(
    incident_history: IncidentHistory, incident: str
) -> None:
    day = incident_history.incidents[incident]
    metric, direction = SYMPTOMS[incident]
    found = anomalies(incident_history, "metric_date = ? and metric = ?", [day, metric])
    assert [(r[1], r[3]) for r in found] == [(metric, direction)], (
        f"{incident} on {day} should show as {metric} {direction}; anomalies that day: "
        f"{anomalies(incident_history, 'metric_date = ?', [day])}"
    )


def test_normal_simulated_days_raise_no_anomaly(incident_history: IncidentHistory) -> None:
    normal = incident_history.normal_days
    found = anomalies(incident_history, "metric_date between ? and ?", [normal[0], normal[-1]])
    assert found == []


def test_the_seeded_history_stays_within_the_false_alarm_goal(
    incident_history: IncidentHistory,
) -> None:
    """At most one false alarm per metric per 90 normal days (the issue's goal)."""
    first_incident = min(incident_history.incidents.values())
    with open_current(incident_history.settings.published_dir) as opened:
        days, series = opened.con.execute(
            f"select count(distinct metric_date), count(distinct (metric, currency)) "
            f"from {ANOMALIES_MART} where expected is not null and metric_date < ?",
            [first_incident],
        ).fetchone()
    alarms = anomalies(incident_history, "metric_date < ?", [first_incident])
    assert days >= 60
    per_metric: dict[tuple, int] = {}
    for _day, metric, currency, _direction, _score in alarms:
        per_metric[(metric, currency)] = per_metric.get((metric, currency), 0) + 1
    allowed = max(1, int(days / 90))
    assert all(n <= allowed for n in per_metric.values()), (per_metric, days)
    assert series >= 14


def test_the_publication_holds_the_three_marts_with_their_schema(
    incident_history: IncidentHistory,
) -> None:
    with open_current(incident_history.settings.published_dir) as opened:
        record = opened.record
        for mart in ("mart_metric_daily", ANOMALIES_MART, TRENDS_MART):
            assert mart in CONTRACT_MARTS
            assert record.row_counts.get(mart, 0) > 0, mart
        marts_dir = opened.version.path / "marts"
    for mart, schema in ((ANOMALIES_MART, ANOMALIES_SCHEMA), (TRENDS_MART, TRENDS_SCHEMA)):
        parquet = duckdb.sql(f"select * from '{marts_dir / (mart + '.parquet')}' limit 0").arrow()
        assert parquet.schema.names == schema.names


def test_metric_daily_has_only_complete_days_and_matches_the_source(
    incident_history: IncidentHistory,
) -> None:
    """bookings_created on the booking_drop day equals the bookings the source holds then."""
    import psycopg

    day: date = incident_history.incidents["booking_drop"]
    with psycopg.connect(incident_history.source_url) as conn:
        in_source = conn.execute(
            "select count(*) from bookings b join users u on u.id = b.user_id "
            "where u.role = 'customer' and (b.created_at at time zone 'UTC')::date = %s",
            (day,),
        ).fetchone()[0]
    with open_current(incident_history.settings.published_dir) as opened:
        value, last = opened.con.execute(
            "select (select value from mart_metric_daily where metric = 'bookings_created' "
            "and metric_date = ?), (select max(metric_date) from mart_metric_daily)",
            [day],
        ).fetchone()
    assert value == in_source
    assert last == incident_history.last_complete
