"""Plain SMTP e-mail for reports and alerts (stdlib ``smtplib`` + ``email``), no Dagster.

``PETPRO_SMTP_URL`` names the server: ``smtp://[user:password@]host[:port]`` (plain, port 25),
``smtp://…?starttls=1`` (upgrade with STARTTLS, port 587) or ``smtps://…`` (TLS from the
start, port 465). Recipients are comma-separated addresses (``PETPRO_REPORT_RECIPIENTS``;
alerts use ``PETPRO_ALERT_RECIPIENTS``, which defaults to the report recipients).
:func:`send_mail` raises :class:`MailError` with one line saying what failed; callers decide
whether that fails them (reports) or is retried later (alerts).
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from petpro.errors import PetProError
from petpro.settings import Settings

SMTP_TIMEOUT_SECONDS = 10.0


class MailError(PetProError):
    """An e-mail could not be sent; the message says why."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: str  # "none", "starttls" or "ssl"


def parse_smtp_url(url: str) -> SmtpServer:
    """The server named by ``url`` (see the module docstring); MailError when malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(
            f"PETPRO_SMTP_URL must look like smtp://host:port or smtps://user:pass@host "
            f"(got {parts.scheme or 'no scheme'}://…)"
        )
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes")
    tls = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    default_port = {"ssl": 465, "starttls": 587, "none": 25}[tls]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise MailError(f"PETPRO_SMTP_URL has an invalid port: {exc}") from None
    return SmtpServer(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=tls,
    )


def parse_recipients(text: str | None) -> list[str]:
    """Comma- or semicolon-separated addresses, blanks dropped."""
    return [a.strip() for a in (text or "").replace(";", ",").split(",") if a.strip()]


def report_recipients(settings: Settings) -> list[str]:
    return parse_recipients(settings.report_recipients)


def alert_recipients(settings: Settings) -> list[str]:
    return parse_recipients(settings.alert_recipients) or report_recipients(settings)


def build_message(
    sender: str, recipients: Sequence[str], subject: str, text: str, html: str | None = None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="petpro.local")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


def send_message(smtp_url: str, message: EmailMessage) -> None:
    """Deliver ``message`` to its To: addresses; MailError with the reason otherwise."""
    server = parse_smtp_url(smtp_url)
    try:
        if server.tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host,
                server.port,
                timeout=SMTP_TIMEOUT_SECONDS,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS)
        with client:
            if server.tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if server.username:
                client.login(server.username, server.password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"could not send e-mail through {server.host}:{server.port}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def send_mail(
    settings: Settings,
    recipients: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
) -> None:
    """Send one e-mail with the configured server; MailError when unset or when it fails."""
    if not settings.smtp_url:
        raise MailError("PETPRO_SMTP_URL is not set: no e-mail can be sent")
    if not recipients:
        raise MailError("no recipients: set PETPRO_REPORT_RECIPIENTS (or PETPRO_ALERT_RECIPIENTS)")
    send_message(
        settings.smtp_url, build_message(settings.mail_from, recipients, subject, text, html)
    )
