"""Alerts reach a file, the webhook and a real SMTP server, once per metric and date.

The publication is the incident history's (tests/insights/conftest.py), copied into a
private home; the webhook is a local HTTP server and the mail server a local aiosmtpd, both
started by the test. Expected alerts are the incidents' days and metrics.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from insights.alerts import alert_path, raise_alerts
from petpro.settings import Settings

from .conftest import IncidentHistory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Webhook:
    """A local webhook receiver; ``fail`` makes it answer 500."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.fail = False
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if hook.fail:
                    self.send_response(500)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def smtp() -> Iterator[tuple[str, list]]:
    from aiosmtpd.controller import Controller

    messages: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", messages
    controller.stop()


def configured(settings: Settings, lookback: int, **changes: object) -> Settings:
    return settings.model_copy(update={"alert_lookback_days": lookback, **changes})


def test_alerts_reach_file_webhook_and_smtp_once(
    incident_history: IncidentHistory, history_home: Settings, webhook: Webhook, smtp
) -> None:
    smtp_url, mails = smtp
    # The last complete day is the booking_drop day + 1: a lookback from the signup_spike day
    # on covers the signup_spike and booking_drop days, not the payment_outage.
    lookback = (
        incident_history.last_complete - incident_history.incidents["signup_spike"]
    ).days + 1
    settings = configured(
        history_home,
        lookback,
        alert_webhook_url=webhook.url,
        smtp_url=smtp_url,
        report_recipients="ops@example.org, cto@example.org",
        dashboard_url="https://petpro.example/dashboard",
    )
    run = raise_alerts(settings)
    created = {(r["metric"], r["date"]) for r in run.created}
    spike = incident_history.incidents["signup_spike"].isoformat()
    drop = incident_history.incidents["booking_drop"].isoformat()
    assert ("new_customers", spike) in created
    assert ("bookings_created", drop) in created
    outage = incident_history.incidents["payment_outage"].isoformat()
    assert all(day != outage for _, day in created)  # older than the lookback: not alerted
    assert run.problems == []

    drop_alert = next(
        r for r in run.created if r["metric"] == "bookings_created" and r["date"] == drop
    )
    on_disk = json.loads(alert_path(settings, drop_alert["id"]).read_text())
    assert on_disk["delivery"]["webhook"]["status"] == "sent"
    assert on_disk["delivery"]["email"]["status"] == "sent"
    assert on_disk["message"].startswith("Bookings created fell")
    assert (
        "https://petpro.example/dashboard#insights?metric=bookings_created"
        in on_disk["dashboard_url"]
    )
    assert sorted(h["id"] for h in webhook.received) == sorted(r["id"] for r in run.created)
    assert len(mails) == len(run.created)
    rcpts, mail = next(m for m in mails if "Bookings created fell" in m[1]["Subject"])
    assert sorted(rcpts) == ["cto@example.org", "ops@example.org"]
    body = mail.get_payload()
    assert "fell" in body and "https://petpro.example/dashboard#insights" in body

    # A re-run (or a backfill republishing the same days) sends nothing again.
    again = raise_alerts(settings)
    assert again.created == [] and again.delivered == []
    assert len(webhook.received) == len(run.created) and len(mails) == len(run.created)


def test_a_failing_webhook_keeps_the_alert_and_retries_next_time(
    incident_history: IncidentHistory, history_home: Settings, webhook: Webhook
) -> None:
    settings = configured(history_home, 2, alert_webhook_url=webhook.url)
    webhook.fail = True
    first = raise_alerts(settings)  # must not raise
    assert "bookings_created" in [r["metric"] for r in first.created]
    keys = sorted(r["id"] for r in first.created)
    key = next(r["id"] for r in first.created if r["metric"] == "bookings_created")
    state = json.loads(alert_path(settings, key).read_text())["delivery"]["webhook"]
    assert state["status"] == "pending" and "500" in state["last_error"]
    assert first.problems and webhook.received == []

    webhook.fail = False
    second = raise_alerts(settings)
    assert second.created == []
    assert sorted(h["id"] for h in webhook.received) == keys
    assert json.loads(alert_path(settings, key).read_text())["delivery"]["webhook"]["status"] == (
        "sent"
    )
    raise_alerts(settings)
    assert len(webhook.received) == len(keys)


def test_an_unreachable_mail_server_gives_up_after_the_retry_window(
    incident_history: IncidentHistory, history_home: Settings
) -> None:
    settings = configured(
        history_home, 2, smtp_url=f"smtp://127.0.0.1:{free_port()}", alert_recipients="a@b.c"
    )
    run = raise_alerts(settings)
    key = run.created[0]["id"]
    assert all("could not send" in p for p in run.problems) and run.problems
    late = raise_alerts(settings, now=_created(settings, key) + timedelta(days=8))
    state = json.loads(alert_path(settings, key).read_text())["delivery"]["email"]
    assert state["status"] == "failed" and state["attempts"] == 2
    assert late.pending


def _created(settings: Settings, key: str):
    from datetime import datetime

    return datetime.fromisoformat(json.loads(alert_path(settings, key).read_text())["created_at"])


def test_without_channels_the_alert_file_is_still_written(
    incident_history: IncidentHistory, history_home: Settings
) -> None:
    run = raise_alerts(configured(history_home, 2))
    assert run.created
    record = run.created[0]
    assert record["delivery"]["webhook"]["status"] == "not_configured"
    assert record["delivery"]["email"]["status"] == "not_configured"
    assert alert_path(history_home, record["id"]).exists()


def test_nothing_published_is_skipped_not_raised(tmp_path) -> None:
    from petpro.settings import get_settings

    run = raise_alerts(get_settings(home=tmp_path))
    assert run.skipped and run.created == []
