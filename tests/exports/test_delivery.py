"""Delivery of the stakeholder PDF by e-mail, against a real SMTP server the test starts.

``petpro export --format pdf --email`` runs as a subprocess with ``PETPRO_SMTP_URL`` (with a
login) and ``PETPRO_REPORT_RECIPIENTS`` pointing at an aiosmtpd server on loopback; the
attachments that arrive must be byte for byte the files of the export folder (checked against
the manifest's sha256). Misconfiguration and an unreachable server give one clear line.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from petpro.mail import MailError, parse_recipients, parse_smtp_url
from petpro.settings import REPO_ROOT
from tests.exports.smtp import pdf_attachments
from tests.ports import free_port


def _petpro(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PETPRO_HOME": str(home), "COLUMNS": "200", **env}
    full.pop("PETPRO_TIMEZONE", None)
    return subprocess.run(
        [sys.executable, "-m", "cli", "export", *args],
        cwd=REPO_ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_emails_each_edition_as_an_attachment(published, smtp_server):
    proc = _petpro(
        published.home,
        "--format",
        "pdf",
        "--email",
        PETPRO_SMTP_URL=smtp_server.url,
        PETPRO_REPORT_RECIPIENTS="board@example.com, cfo@example.com,board@example.com",
        PETPRO_MAIL_FROM="analytics@petpro.example",
    )
    assert proc.returncode == 0, proc.stderr
    assert "e-mailed petpro-stakeholder-report-monthly-2024-02-01.pdf" in proc.stdout
    manifest = json.loads((published.home / "exports" / "latest" / "manifest.json").read_text())
    digests = {e["edition"]: e["sha256"] for e in manifest["files"] if e["format"] == "pdf"}

    assert len(smtp_server.messages) == 2
    subjects = {}
    for sender, recipients, message in smtp_server.messages:
        assert sender == "analytics@petpro.example"
        assert recipients == ["board@example.com", "cfo@example.com"]
        assert message["To"] == "board@example.com, cfo@example.com"
        (name, data), *more = pdf_attachments(message).items()
        assert not more
        edition = "monthly" if "-monthly-" in name else "weekly"
        assert hashlib.sha256(data).hexdigest() == digests[edition]
        subjects[edition] = message["Subject"]
        body = message.get_body(("plain",)).get_content()
        assert "New customers" in body and "Publication run-20240320-0001" in body
    assert subjects == {
        "monthly": "PetPro stakeholder report: monthly edition, Feb 2024",
        "weekly": "PetPro stakeholder report: weekly edition, Week 11, 2024",
    }


def test_cli_email_without_settings_fails_before_building(published):
    proc = _petpro(published.home, "--format", "pdf", "--email", PETPRO_SMTP_URL="")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--email needs PETPRO_SMTP_URL and PETPRO_REPORT_RECIPIENTS" in proc.stderr
    assert not (published.home / "exports").exists()


def test_unreachable_server_is_one_line_and_keeps_the_export(published):
    port = free_port()  # nothing listens there
    proc = _petpro(
        published.home,
        "--format",
        "pdf",
        "--edition",
        "weekly",
        "--email",
        PETPRO_SMTP_URL=f"smtp://reporter:hunter2@127.0.0.1:{port}",
        PETPRO_REPORT_RECIPIENTS="board@example.com",
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: could not send")
    assert f"127.0.0.1:{port}" in proc.stderr and "hunter2" not in proc.stderr
    assert (published.home / "exports" / "latest" / "stakeholder_report_weekly.pdf").is_file()


def test_wrong_password_is_refused_with_a_clear_line(published, smtp_server):
    url = smtp_server.url.replace("s3cret%40x", "wrong")
    proc = _petpro(
        published.home,
        "--format",
        "pdf",
        "--edition",
        "monthly",
        "--email",
        PETPRO_SMTP_URL=url,
        PETPRO_REPORT_RECIPIENTS="board@example.com",
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "could not send" in proc.stderr and "wrong" not in proc.stderr.split("through")[1]
    assert smtp_server.messages == []


def test_smtp_url_forms():
    plain = parse_smtp_url("smtp://mail.internal")
    assert (plain.host, plain.port, plain.username, plain.starttls) == (
        "mail.internal",
        25,
        None,
        False,
    )
    tls = parse_smtp_url("smtp://u%40corp:p%3Aw@mail.internal:587?starttls=true")
    assert (tls.port, tls.username, tls.password, tls.starttls) == (587, "u@corp", "p:w", True)
    implicit = parse_smtp_url("smtps://mail.internal")
    assert (implicit.port, implicit.implicit_tls) == (465, True)
    for bad in ("http://mail", "smtp://", "mail.internal:25", "smtps://h?starttls=true"):
        with pytest.raises(MailError):
            parse_smtp_url(bad)
    with pytest.raises(MailError, match="not an e-mail address"):
        parse_recipients("board@example.com, not-an-address")
    assert parse_recipients(" a@x.org ,, b@x.org, a@x.org ") == ["a@x.org", "b@x.org"]
