"""Metric alerts: new anomalies of a publication become notifications, each exactly once.

After a publication, :func:`raise_alerts` reads ``mart_metric_anomalies`` of the *current*
published version and takes the anomalies on the latest ``PETPRO_ALERT_LOOKBACK_DAYS``
complete days (older anomalies, e.g. those a backfill uncovers, stay in the marts and on the
dashboard but are not pushed: nobody needs a page about last spring).

*Once.* Each alert is one JSON file ``$PETPRO_HOME/alerts/metric-<date>-<metric>[-<currency>].json``,
keyed by (metric, date, currency). It is created with a hard link from a fsynced temporary
file, which fails when the file already exists, so a re-run, a backfill or two concurrent
runs never create (or send) the same alert twice.

*Never lost, never blocking.* The file is written before any delivery is tried and records
the delivery state of each channel (``webhook`` to ``PETPRO_ALERT_WEBHOOK_URL``, ``email``
through ``PETPRO_SMTP_URL`` to the alert recipients): ``sent``, ``pending`` (the last attempt
failed: retried on the next run, for :data:`RETRY_DAYS` days, then ``failed``) or
``not_configured``. A failing webhook or mail server is reported in the result, never raised:
the publication it follows is already done and stays published. Updates replace the file
atomically, under a lock so concurrent runs do not send twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from insights.marts import ANOMALIES_MART
from insights.series import METRIC_LABELS
from petpro.durability import fsync_dir, fsync_file
from petpro.mail import MailError, parse_recipients, send_mail
from petpro.publication import NothingPublishedError, open_current
from petpro.settings import Settings

ALERT_PREFIX = "metric-"
LOCK_FILE = ".metric-alerts.lock"
RETRY_DAYS = 7
WEBHOOK_TIMEOUT_SECONDS = 5.0
SMTP_TIMEOUT_SECONDS = 10.0
CHANNELS = ("webhook", "email")
_MONEY_KINDS = frozenset({"money"})

log = logging.getLogger(__name__)


@dataclass
class AlertRun:
    """What one :func:`raise_alerts` call did."""

    created: list[dict[str, Any]] = field(default_factory=list)  # new alert records
    delivered: list[str] = field(default_factory=list)  # "<alert id> via <channel>"
    pending: list[str] = field(default_factory=list)  # failed now, retried next time
    problems: list[str] = field(default_factory=list)  # one line per failed delivery
    skipped: str | None = None  # why nothing was looked at (nothing published, no mart)


def alert_recipients(settings: Settings) -> list[str]:
    """``PETPRO_ALERT_RECIPIENTS``, else the report recipients."""
    return parse_recipients(settings.alert_recipients) or parse_recipients(
        settings.report_recipients
    )


def alert_id(metric: str, day: date, currency: str | None) -> str:
    """The dedupe key as a file-name-safe id: ``<date>-<metric>[-<currency>]``."""
    safe_currency = re.sub(r"[^A-Za-z0-9]", "", currency or "")
    return f"{day.isoformat()}-{metric}" + (f"-{safe_currency}" if safe_currency else "")


def alert_path(settings: Settings, key: str) -> Path:
    return settings.alerts_dir / f"{ALERT_PREFIX}{key}.json"


def _format_value(value: float | None, kind: str, currency: str | None) -> str:
    if value is None:
        return "n/a"
    if kind == "ratio":
        return f"{value:.1%}"
    if kind == "average":
        return f"{value:.2f}"
    if kind in _MONEY_KINDS:
        return f"{value:,.2f} {currency or ''}".strip()
    return f"{value:,.0f}"


def describe(row: dict[str, Any]) -> str:
    """What happened, in words (the alert's message)."""
    kind, currency = row["metric_kind"], row.get("currency")
    label = METRIC_LABELS.get(row["metric"], row["metric"].replace("_", " "))
    if currency:
        label = f"{label} in {currency}"
    day: date = row["metric_date"]
    observed, expected = row.get("observed"), row.get("expected")
    verb = "rose" if row["direction"] == "up" else "fell"
    change = ""
    if kind == "ratio" and observed is not None:
        change = f" to {_format_value(observed, kind, currency)}"  # a rate: its level says it
    elif observed is not None and expected:
        change = f" {abs(observed - expected) / abs(expected):.0%}"
    weekday = day.strftime("%A")
    band = ""
    if row.get("lower_bound") is not None and row.get("upper_bound") is not None:
        band = (
            f" (normal range {_format_value(row['lower_bound'], kind, currency)} to "
            f"{_format_value(row['upper_bound'], kind, currency)})"
        )
    return (
        f"{label[0].upper()}{label[1:]} {verb}{change} on {weekday} "
        f"{day.isoformat()}: {_format_value(observed, kind, currency)} against "
        f"{_format_value(expected, kind, currency)} expected for a {weekday}{band}."
    )


def dashboard_link(settings: Settings, row: dict[str, Any]) -> str:
    base = settings.dashboard_url.rstrip("/")
    return f"{base}#insights?metric={row['metric']}&date={row['metric_date'].isoformat()}"


def _record(settings: Settings, row: dict[str, Any], publication: dict[str, str]) -> dict:
    key = alert_id(row["metric"], row["metric_date"], row.get("currency"))
    message = describe(row)
    link = dashboard_link(settings, row)
    recipients = alert_recipients(settings)
    configured = {
        "webhook": bool(settings.alert_webhook_url),
        "email": bool(settings.smtp_url and recipients),
    }
    return {
        "kind": "metric_anomaly",
        "id": key,
        "metric": row["metric"],
        "label": METRIC_LABELS.get(row["metric"], row["metric"]),
        "metric_kind": row["metric_kind"],
        "currency": row.get("currency"),
        "date": row["metric_date"].isoformat(),
        "direction": row["direction"],
        "observed": row.get("observed"),
        "expected": row.get("expected"),
        "lower_bound": row.get("lower_bound"),
        "upper_bound": row.get("upper_bound"),
        "score": row.get("score"),
        "method": row.get("method"),
        "message": message,
        "dashboard_url": link,
        "publication": publication,
        "created_at": datetime.now(UTC).isoformat(),
        "delivery": {
            channel: {
                "status": "pending" if configured[channel] else "not_configured",
                "attempts": 0,
                "last_error": None,
                "sent_at": None,
            }
            for channel in CHANNELS
        },
    }


def _write_new(path: Path, record: dict) -> bool:
    """Create ``path`` with ``record`` unless it exists (atomic, durable); True if created."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    fsync_file(tmp)
    try:
        os.link(tmp, path)  # fails if the alert exists: the dedupe
        created = True
    except FileExistsError:
        created = False
    finally:
        tmp.unlink(missing_ok=True)
    if created:
        fsync_dir(path.parent)
    return created


def _replace(path: Path, record: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    fsync_file(tmp)
    os.replace(tmp, path)
    fsync_dir(path.parent)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    settings.alerts_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.alerts_dir / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recent_anomalies(con: duckdb.DuckDBPyConnection, lookback_days: int) -> list[dict]:
    """Anomalies on the latest ``lookback_days`` days of the publication, oldest first."""
    present = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [ANOMALIES_MART]
    ).fetchone()
    if not present or not present[0]:
        return []
    cursor = con.execute(
        f"select metric_date, metric, metric_kind, currency, observed, expected, lower_bound, "
        f"upper_bound, score, direction, method from {ANOMALIES_MART} "
        f"where is_anomaly and metric_date > "
        f"(select max(metric_date) from {ANOMALIES_MART}) - cast(? as integer) "
        f"order by metric_date, metric, currency nulls first",
        [lookback_days],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _post_webhook(url: str, record: dict) -> None:
    import httpx

    response = httpx.post(url, json=record, timeout=WEBHOOK_TIMEOUT_SECONDS)
    if response.status_code >= 400:
        raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


def _send_email(settings: Settings, record: dict) -> None:
    subject = f"[PetPro] {record['message'].split(':')[0]}"
    text = (
        f"{record['message']}\n\nOpen the dashboard: {record['dashboard_url']}\n\n"
        f"Metric: {record['metric']}{' (' + record['currency'] + ')' if record['currency'] else ''}"
        f"\nDate: {record['date']}\nScore: {record['score']:.1f} ({record['method']})\n"
        f"Publication: {record['publication'].get('version', '')}\n"
    )
    send_mail(
        settings.smtp_url or "",
        sender=settings.mail_from,
        recipients=alert_recipients(settings),
        subject=subject,
        body=text,
        timeout=SMTP_TIMEOUT_SECONDS,
    )


def _deliver(settings: Settings, path: Path, run: AlertRun, now: datetime) -> None:
    record = json.loads(path.read_text())
    created = datetime.fromisoformat(record["created_at"])
    changed = False
    for channel in CHANNELS:
        state = record["delivery"][channel]
        configured = (
            bool(settings.alert_webhook_url)
            if channel == "webhook"
            else bool(settings.smtp_url and alert_recipients(settings))
        )
        if (
            state["status"] == "not_configured"
            and configured
            and now - created < timedelta(days=RETRY_DAYS)
        ):
            state["status"] = "pending"  # configured since: deliver the recent ones
        if state["status"] != "pending":
            continue
        if not configured:
            continue  # the channel was switched off meanwhile: keep it pending
        state["attempts"] += 1
        changed = True
        try:
            if channel == "webhook":
                _post_webhook(settings.alert_webhook_url or "", record)
            else:
                _send_email(settings, record)
        except Exception as exc:  # whatever a channel raises, the alert stays and is retried
            reason = str(exc) if isinstance(exc, MailError) else f"{type(exc).__name__}: {exc}"
            state["last_error"] = reason
            if now - created >= timedelta(days=RETRY_DAYS):
                state["status"] = "failed"
            run.pending.append(f"{record['id']} via {channel}")
            run.problems.append(f"alert {record['id']} via {channel}: {reason}")
            log.warning("alert %s via %s not delivered: %s", record["id"], channel, reason)
        else:
            state["status"] = "sent"
            state["sent_at"] = now.isoformat()
            state["last_error"] = None
            run.delivered.append(f"{record['id']} via {channel}")
    if changed:
        _replace(path, record)


def raise_alerts(settings: Settings, *, now: datetime | None = None) -> AlertRun:
    """Create the alerts of the current publication's new anomalies and deliver what is due."""
    now = now or datetime.now(UTC)
    run = AlertRun()
    try:
        with open_current(settings.published_dir) as opened:
            rows = recent_anomalies(opened.con, settings.alert_lookback_days)
            publication = {"run_id": opened.record.run_id, "version": opened.record.version}
    except NothingPublishedError as exc:
        run.skipped = str(exc)
        return run
    with _locked(settings):
        for row in rows:
            record = _record(settings, row, publication)
            if _write_new(alert_path(settings, record["id"]), record):
                run.created.append(record)
        for path in sorted(settings.alerts_dir.glob(f"{ALERT_PREFIX}*.json")):
            try:
                _deliver(settings, path, run, now)
            except (OSError, ValueError, KeyError) as exc:
                run.problems.append(f"alert file {path.name} unreadable: {exc}")
    return run


def latest_alerts(settings: Settings, limit: int = 20) -> list[dict]:
    """The newest alert records (by date, then creation), for the API and the dashboard."""
    records = []
    for path in settings.alerts_dir.glob(f"{ALERT_PREFIX}*.json"):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    records.sort(key=lambda r: (r.get("date", ""), r.get("created_at", "")), reverse=True)
    return records[:limit]
