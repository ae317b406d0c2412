"""The stakeholder report's schedules and job: 04:00 in the business zone, the right period,
a real run that adds the PDF to the export folder and e-mails it to a real SMTP server."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, DefaultScheduleStatus, build_schedule_context

from exports.run import export_reports
from orchestration.report_schedules import (
    build_report_schedules,
    run_config_for,
    stakeholder_report_job,
)
from orchestration.resources import PetProSettings
from petpro.settings import get_settings
from tests.exports.publication import build_publication
from tests.exports.smtp import pdf_attachments, running_smtp

ZONE = "America/New_York"


def _requests(schedule, when: datetime):
    with build_schedule_context(scheduled_execution_time=when) as context:
        return list(schedule.evaluate_tick(context).run_requests or [])


def test_schedules_run_at_four_in_the_business_zone():
    schedules = {s.name: s for s in build_report_schedules(get_settings(timezone=ZONE))}
    monthly = schedules["stakeholder_report_monthly_schedule"]
    weekly = schedules["stakeholder_report_weekly_schedule"]
    assert monthly.cron_schedule == "0 4 1 * *"  # 04:00 on the 1st
    assert weekly.cron_schedule == "0 4 * * 1"  # 04:00 on Mondays
    for schedule in (monthly, weekly):
        assert schedule.execution_timezone == ZONE
        assert schedule.default_status == DefaultScheduleStatus.RUNNING
        assert schedule.job_name == "stakeholder_report"


@pytest.mark.parametrize(
    ("edition", "fires", "report_date"),
    [
        # 1 July 04:00 New York is 08:00 UTC: the month that just ended is June.
        ("monthly", datetime(2024, 7, 1, 4, 0, tzinfo=ZoneInfo(ZONE)), date(2024, 6, 30)),
        # 1 January: the year turns.
        ("monthly", datetime(2025, 1, 1, 4, 0, tzinfo=ZoneInfo(ZONE)), date(2024, 12, 31)),
        # Monday 8 July: the ISO week 1-7 July, reported as of Sunday the 7th.
        ("weekly", datetime(2024, 7, 8, 4, 0, tzinfo=ZoneInfo(ZONE)), date(2024, 7, 7)),
    ],
)
def test_schedule_asks_for_the_period_that_just_ended(edition, fires, report_date):
    schedule = next(
        s for s in build_report_schedules(get_settings(timezone=ZONE)) if edition in s.name
    )
    (request,) = _requests(schedule, fires)
    assert request.run_config == run_config_for(edition, report_date)
    assert request.run_key == f"stakeholder-{edition}-{report_date.isoformat()}"
    assert request.tags["petpro/edition"] == edition


def test_code_location_registers_both_schedules(tmp_path):
    from orchestration.location import build_definitions

    defs = build_definitions(get_settings(home=tmp_path, timezone=ZONE))
    names = {s.name for s in defs.schedules or []}
    assert {"stakeholder_report_monthly_schedule", "stakeholder_report_weekly_schedule"} <= names
    assert "stakeholder_report" in {j.name for j in defs.resolve_all_job_defs()}


def test_scheduled_run_adds_the_pdf_and_emails_it(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("PETPRO_HOME", str(home))
    monkeypatch.setenv("PETPRO_TIMEZONE", "UTC")
    settings = get_settings()
    build_publication(settings)  # high-water mark 2024-03-20
    # The nightly export of that day already wrote a table into the folder.
    export_reports(settings, report_date=date(2024, 3, 17), reports=["repeat_customers"])
    with running_smtp() as box:
        monkeypatch.setenv("PETPRO_SMTP_URL", box.url)
        monkeypatch.setenv("PETPRO_REPORT_RECIPIENTS", "board@example.com")
        result = stakeholder_report_job.execute_in_process(
            run_config=run_config_for("weekly", date(2024, 3, 17)),
            instance=DagsterInstance.ephemeral(),
            resources={"petpro": PetProSettings()},
        )
    assert result.success
    folder = home / "exports" / "2024-03-17"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "manifest.json",
        "repeat_customers.csv",
        "repeat_customers.parquet",
        "repeat_customers.xlsx",
        "stakeholder_report_weekly.pdf",
    ]
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["format"] == "pdf")
    assert entry["period"]["start"] == "2024-03-11" and entry["period"]["end"] == "2024-03-17"
    (message,) = [m for _, _, m in box.messages]
    (data,) = pdf_attachments(message).values()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert message["Subject"] == "PetPro stakeholder report: weekly edition, Week 11, 2024"
    materialized = result.asset_materializations_for_node("build_stakeholder_report")
    assert materialized[0].metadata["emailed_to"].value == "board@example.com"


def test_run_fails_clearly_when_the_data_does_not_reach_the_period(tmp_path, monkeypatch):
    monkeypatch.setenv("PETPRO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PETPRO_TIMEZONE", "UTC")
    build_publication(get_settings())  # high-water mark 2024-03-20
    result = stakeholder_report_job.execute_in_process(
        run_config=run_config_for("monthly", date(2024, 3, 31)),
        instance=DagsterInstance.ephemeral(),
        resources={"petpro": PetProSettings()},
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.to_string()  # with its cause, the BadDateError
    assert "after the published data's high-water mark" in message
    assert not (tmp_path / "home" / "exports" / "2024-03-31").exists()
