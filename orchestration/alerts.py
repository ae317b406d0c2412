"""Run-failure alerts: a JSON line under ``$PETPRO_HOME/alerts`` and an optional webhook POST.

Plain functions (no Dagster) so the sensor stays a thin wrapper. Writing the record must
never fail the sensor: the alert file is appended with one ``write`` of one line (readers
see whole lines), and the webhook is best-effort with a short timeout.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from petpro.settings import Settings

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_TIMEOUT_SECONDS = 5.0

log = logging.getLogger(__name__)


def alert_record(
    *, job: str, run_id: str, reason: str, partition: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "at": datetime.now(UTC).isoformat(),
        "kind": "run_failure",
        "job": job,
        "run_id": run_id,
        "partition": partition,
        "reason": reason,
        **extra,
    }


def write_alert(settings: Settings, record: dict[str, Any]) -> Path:
    settings.alerts_dir.mkdir(parents=True, exist_ok=True)
    path = settings.alerts_dir / ALERTS_FILE
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def post_webhook(url: str | None, record: dict[str, Any]) -> str | None:
    """POST ``record`` as JSON; return None on success, else a one-line reason. Never raises."""
    if not url:
        return None
    try:
        import httpx

        response = httpx.post(url, json=record, timeout=WEBHOOK_TIMEOUT_SECONDS)
        if response.status_code >= 400:
            return f"webhook answered HTTP {response.status_code}"
    except Exception as exc:
        return f"webhook POST failed: {type(exc).__name__}: {exc}"
    return None


def send_alert(settings: Settings, record: dict[str, Any]) -> tuple[Path | None, str | None]:
    """Record the alert and POST it; returns (alert file, webhook problem). Never raises."""
    path: Path | None = None
    try:
        path = write_alert(settings, record)
    except Exception as exc:
        log.error("could not write the alert record: %s", exc)
    problem = post_webhook(settings.alert_webhook_url, record)
    if problem:
        log.warning(problem)
    return path, problem
