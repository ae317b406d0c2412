"""Sending e-mail through the SMTP server named by one URL: the project's only mail sender.

Reports (``exports.delivery``) and, later, metric alerts hand a subject, a text body and
attachments to :func:`send_mail`; the server comes from ``PETPRO_SMTP_URL`` and the recipients
from a comma-separated list. Standard library only (``smtplib``, ``email``), so every floor
may use it. The URL forms are::

    smtp://host[:port]                     plain SMTP (port 25)
    smtp://user:password@host:587?starttls=true
    smtps://user:password@host[:port]      SMTP over TLS from the first byte (port 465)

User and password are percent-decoded (``%40`` for ``@``). A refused connection, a failed
login or a rejected recipient becomes one :class:`MailError` line naming the server, never
the password.
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

_TRUE = {"1", "true", "yes", "on"}


class MailError(PetProError):
    """A message could not be sent, or the mail settings cannot be used."""


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to connect, parsed from ``PETPRO_SMTP_URL``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    implicit_tls: bool = False
    starttls: bool = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Attachment:
    """One file attached to a message."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of an ``smtp://`` or ``smtps://`` URL (one clear error when malformed)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise MailError(
            f"PETPRO_SMTP_URL {_redacted(url)!r} is not an SMTP URL: use "
            "smtp://host:port, smtp://user:password@host:587?starttls=true or smtps://host"
        )
    try:
        port = parts.port
    except ValueError:
        raise MailError(f"PETPRO_SMTP_URL {_redacted(url)!r} has an invalid port") from None
    implicit = parts.scheme == "smtps"
    query = parse_qs(parts.query)
    starttls = any(v.lower() in _TRUE for v in query.get("starttls", []))
    if implicit and starttls:
        raise MailError("PETPRO_SMTP_URL: smtps:// is already TLS, drop ?starttls=true")
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if implicit else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit,
        starttls=starttls,
    )


def parse_recipients(text: str) -> list[str]:
    """The addresses of a comma-separated list, in order, without blanks or duplicates."""
    seen: list[str] = []
    for raw in text.split(","):
        address = raw.strip()
        if not address:
            continue
        if "@" not in address or any(c.isspace() for c in address):
            raise MailError(
                f"{address!r} in the recipient list is not an e-mail address: give "
                "comma-separated addresses such as board@example.com,cfo@example.com"
            )
        if address not in seen:
            seen.append(address)
    return seen


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


def build_message(
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    for item in attachments:
        maintype, _, subtype = item.mime_type.partition("/")
        message.add_attachment(
            item.content,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return message


def send_mail(
    smtp_url: str,
    *,
    sender: str,
    recipients: Sequence[str],
    subject: str,
    body: str,
    attachments: Sequence[Attachment] = (),
    timeout: float = 30.0,
) -> None:
    """Send one message to every recipient; raise :class:`MailError` when it is not accepted."""
    server = parse_smtp_url(smtp_url)
    if not recipients:
        raise MailError("no recipients to send to: set PETPRO_REPORT_RECIPIENTS")
    message = build_message(
        sender=sender,
        recipients=recipients,
        subject=subject,
        body=body,
        attachments=attachments,
    )
    context = ssl.create_default_context()
    try:
        if server.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(server.host, server.port, timeout=timeout)
        with client:
            if server.starttls:
                client.starttls(context=context)
            if server.username:
                client.login(server.username, server.password or "")
            refused = client.send_message(message, from_addr=sender, to_addrs=list(recipients))
    except (OSError, smtplib.SMTPException) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise MailError(
            f"could not send {subject!r} through {server.address}: {reason}; check "
            "PETPRO_SMTP_URL and that the mail server is reachable"
        ) from exc
    if refused:
        raise MailError(
            f"{server.address} refused {', '.join(sorted(refused))} for {subject!r}; the other "
            "recipients got it: check PETPRO_REPORT_RECIPIENTS"
        )
