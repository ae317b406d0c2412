"""A real SMTP server for the delivery tests: aiosmtpd on a free loopback port, in a thread.

``running_smtp()`` (the ``smtp_server`` fixture of tests/exports/conftest.py) yields a
:class:`Mailbox` whose ``messages`` are the parsed e-mails the server accepted and whose ``url``
is the ``PETPRO_SMTP_URL`` to reach it. The server requires a login (``reporter`` / ``s3cret@x``, sent in the URL as
``s3cret%40x``) so the tests also prove that credentials are decoded and used.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.ports import free_port

USER = "reporter"
PASSWORD = "s3cret@x"


@dataclass
class Mailbox:
    port: int
    messages: list[tuple[str, list[str], EmailMessage]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"smtp://{USER}:s3cret%40x@127.0.0.1:{self.port}"


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.box.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok)


@contextlib.contextmanager
def running_smtp() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        authenticator=_authenticate,
        auth_required=True,
        auth_require_tls=False,  # loopback only (aiosmtpd warns about it): no TLS to test here
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def pdf_attachments(message: EmailMessage) -> dict[str, bytes]:
    return {
        part.get_filename(): part.get_content()
        for part in message.iter_attachments()
        if part.get_content_type() == "application/pdf"
    }
