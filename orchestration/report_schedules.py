"""The stakeholder report's job and its two schedules (monthly and weekly editions).

``stakeholder_report`` is a one-op job: it builds one edition of the PDF from the current
publication with :func:`exports.run.export_reports` — added to the report date's export folder,
keeping the files already there — and, when ``PETPRO_SMTP_URL`` and
``PETPRO_REPORT_RECIPIENTS`` are set, e-mails it (:mod:`exports.delivery`). It is an op job, not
an asset, so the pipeline jobs that select every asset never pick it up.

The schedules run at 04:00 ``PETPRO_TIMEZONE``, after the 02:00 refresh and the 03:00 export:
``stakeholder_report_monthly_schedule`` on the 1st of each month for the month that just ended,
``stakeholder_report_weekly_schedule`` on Mondays for the ISO week that ended on Sunday. Each
passes the day before its run as the report date, so a refresh that has not reached that day
fails the run with one clear line instead of reporting an earlier period. Built on Dagster's
public API only.
"""

# No ``from __future__ import annotations``: Dagster reads the op's config annotation at run time.
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dagster import (
    AssetKey,
    AssetMaterialization,
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    job,
    op,
    schedule,
)

from orchestration.resources import PetProSettings
from petpro.settings import Settings

OP_NAME = "build_stakeholder_report"
STAKEHOLDER_REPORT_KEY = "stakeholder_report"  # the asset key its materializations are logged to
EDITION_TAG = "petpro/edition"
CRON = {"monthly": "0 4 1 * *", "weekly": "0 4 * * 1"}


class StakeholderReportConfig(Config):
    """Which edition to build, complete as of which day (default: the data high-water mark)."""

    edition: str = "monthly"
    report_date: str | None = None


@op(name=OP_NAME, tags={"kind": "pdf"})
def stakeholder_report_op(
    context: OpExecutionContext, config: StakeholderReportConfig, petpro: PetProSettings
) -> None:
    from exports.delivery import deliver_report, delivery_configured
    from exports.reports import STAKEHOLDER_REPORT
    from exports.run import export_reports, parse_date

    settings = petpro.settings()
    day = parse_date(config.report_date, "report_date") if config.report_date else None
    result = export_reports(
        settings,
        report_date=day,
        reports=[STAKEHOLDER_REPORT],
        formats=["pdf"],
        editions=[config.edition],
        keep_other_files=True,
    )
    pdf = result.pdf(config.edition)
    document = result.documents[0]
    assert pdf is not None
    context.log.info(f"{pdf.path} ({pdf.bytes:,} bytes) for {document.period.long_label}")
    metadata: dict[str, Any] = {
        "path": MetadataValue.path(str(pdf.path)),
        "edition": config.edition,
        "period": document.period.long_label,
        "bytes": pdf.bytes,
        "sha256": pdf.sha256,
        "publication_run_id": result.run_id,
    }
    if delivery_configured(settings):
        sent = deliver_report(settings, pdf.path, document)
        context.log.info(f"e-mailed {sent.attachment} to {', '.join(sent.recipients)}")
        metadata["emailed_to"] = ", ".join(sent.recipients)
    else:
        context.log.info("not e-mailed: PETPRO_SMTP_URL or PETPRO_REPORT_RECIPIENTS is not set")
    context.log_event(
        AssetMaterialization(asset_key=AssetKey(STAKEHOLDER_REPORT_KEY), metadata=metadata)
    )


@job(
    name="stakeholder_report",
    description="Build one edition of the stakeholder PDF into the export folder of its report "
    "date and e-mail it when PETPRO_SMTP_URL and PETPRO_REPORT_RECIPIENTS are set.",
)
def stakeholder_report_job() -> None:
    stakeholder_report_op()


def run_config_for(edition: str, report_date: date) -> dict[str, Any]:
    config = {"edition": edition, "report_date": report_date.isoformat()}
    return {"ops": {OP_NAME: {"config": config}}}


def _schedule(settings: Settings, edition: str) -> ScheduleDefinition:
    zone = settings.timezone
    when = "on the 1st, for the month" if edition == "monthly" else "on Mondays, for the week"

    @schedule(
        name=f"stakeholder_report_{edition}_schedule",
        cron_schedule=CRON[edition],
        execution_timezone=zone,
        job=stakeholder_report_job,
        default_status=DefaultScheduleStatus.RUNNING,
        description=f"04:00 {zone} {when} that just ended: the {edition} stakeholder PDF, "
        "e-mailed when delivery is configured.",
    )
    def _evaluate(context: ScheduleEvaluationContext) -> RunRequest:
        assert context.scheduled_execution_time is not None
        local = context.scheduled_execution_time.astimezone(ZoneInfo(zone))
        report_date = local.date() - timedelta(days=1)
        return RunRequest(
            run_key=f"stakeholder-{edition}-{report_date.isoformat()}",
            run_config=run_config_for(edition, report_date),
            tags={EDITION_TAG: edition},
        )

    return _evaluate


def build_report_schedules(settings: Settings) -> list[ScheduleDefinition]:
    """The monthly and weekly schedules of the stakeholder report (they bring their job)."""
    return [_schedule(settings, "monthly"), _schedule(settings, "weekly")]
