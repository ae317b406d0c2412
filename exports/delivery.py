"""E-mailing a stakeholder report once it is built and in its export folder.

When ``PETPRO_SMTP_URL`` and ``PETPRO_REPORT_RECIPIENTS`` are both set, :func:`deliver_report`
sends the edition's PDF as an attachment, with the period, the publication and the headline
figures in the message text, through :func:`petpro.mail.send_mail`. The scheduled editions call
it after the export; ``petpro export --email`` does the same by hand. Without the two settings
nothing is sent (:func:`delivery_configured` says so); a failed send raises
:class:`petpro.mail.MailError`, after the file was safely exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exports.stakeholder_data import StakeholderData
from petpro.mail import Attachment, MailError, parse_recipients, send_mail
from petpro.settings import Settings


@dataclass(frozen=True)
class Delivery:
    """What was sent: the recipients, the subject and the attachment's file name."""

    recipients: list[str]
    subject: str
    attachment: str


def delivery_configured(settings: Settings) -> bool:
    return bool(settings.smtp_url) and bool(settings.report_recipients.strip())


def attachment_name(data: StakeholderData) -> str:
    return f"petpro-stakeholder-report-{data.edition}-{data.period.start.isoformat()}.pdf"


def subject_of(data: StakeholderData) -> str:
    return f"PetPro stakeholder report: {data.edition} edition, {data.period.label}"


def body_of(data: StakeholderData) -> str:
    lines = [
        f"The {data.edition} stakeholder report for {data.period.long_label} is attached.",
        "",
    ]
    for kpi in data.kpis:
        title = kpi.title + (f" ({kpi.currency})" if kpi.unit == "money" else "")
        lines.append(f"- {title}, {kpi.period_label}: {kpi.show(kpi.value)}")
    lines += [
        "",
        f"Publication {data.run_id}; every figure comes from its published marts.",
        "This message was sent by the PetPro analytics warehouse.",
    ]
    return "\n".join(lines) + "\n"


def deliver_report(settings: Settings, pdf: Path, data: StakeholderData) -> Delivery:
    """Send ``pdf`` to the configured recipients (:class:`MailError` when not configured)."""
    if not settings.smtp_url or not settings.report_recipients.strip():
        raise MailError(
            "set PETPRO_SMTP_URL and PETPRO_REPORT_RECIPIENTS to e-mail the stakeholder report"
        )
    recipients = parse_recipients(settings.report_recipients)
    subject = subject_of(data)
    name = attachment_name(data)
    send_mail(
        settings.smtp_url,
        sender=settings.mail_from,
        recipients=recipients,
        subject=subject,
        body=body_of(data),
        attachments=[Attachment(name, pdf.read_bytes(), "application/pdf")],
    )
    return Delivery(recipients, subject, name)
