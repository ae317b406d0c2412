"""The API's audit trail: one JSON line per analytics/report request and per failed login.

Records go to ``settings.audit_log`` (``$PETPRO_HOME/audit/audit.jsonl``). The file is
opened with ``O_APPEND`` and every record is written with a single ``write`` call, so
concurrent workers and processes never interleave partial lines and nothing is ever
rewritten. :class:`AuditMiddleware` is a plain ASGI middleware (no response buffering) that
records time, subject, role, method, path, query parameters, status, rows returned,
publication and duration. :func:`read_records` is what ``petpro audit`` shows.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from petpro.errors import PetProError

AUDITED_PREFIXES = ("/analytics", "/activities", "/v2", "/reports")


class AuditError(PetProError):
    """The audit trail cannot be read or written as asked."""


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line with a single O_APPEND write (opening the file for this record)."""
    line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class AuditLog:
    """An O_APPEND descriptor kept open between records; reopened if the file was rotated."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._ino: int | None = None

    def write(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
        fd = self._fd
        if fd is None or self._rotated():
            fd = self._reopen()
        os.write(fd, line)  # one write per record: O_APPEND keeps concurrent lines whole

    def _rotated(self) -> bool:
        try:
            return os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            return True

    def _reopen(self) -> int:
        if self._fd is not None:
            os.close(self._fd)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._ino = os.fstat(self._fd).st_ino
        return self._fd


class AuditMiddleware:
    """ASGI middleware writing an audit record for audited paths and every 401/403."""

    def __init__(self, app: Any, path: Path) -> None:
        self.app = app
        self.path = path
        self.log = AuditLog(path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: dict[str, int] = {}

        async def send_wrapper(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            code = status.get("code", 500)
            path: str = scope.get("path", "")
            if path.startswith(AUDITED_PREFIXES) or code in (401, 403):
                self._record(scope, code, time.perf_counter() - started)

    def _record(self, scope: dict[str, Any], code: int, elapsed: float) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "subject": getattr(principal, "subject", None),
            "role": getattr(principal, "role", None),
            "auth": getattr(principal, "method", None),
            "method": scope.get("method"),
            "endpoint": scope.get("path"),
            "params": _params(query),
            "status": code,
            "rows": state.get("rows"),
            "publication": state.get("publication"),
            "client": client[0] if client else None,
            "ms": round(elapsed * 1000, 2),
        }
        if code in (401, 403):
            record["event"] = "auth_failed" if code == 401 else "forbidden"
            record["reason"] = state.get("auth_failure")
        try:
            self.log.write(record)
        except OSError:  # an unwritable audit log must be visible, not silently skipped
            import logging

            logging.getLogger(__name__).exception("cannot write audit record to %s", self.path)


def _params(query: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in params:
            existing = params[key]
            params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            params[key] = value
    return params


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``2026-01-01``, an ISO timestamp, or a relative age like ``90m``, ``1h``, ``7d``."""
    now = now or datetime.now(UTC)
    text = value.strip()
    m = _RELATIVE.match(text)
    if m:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m[2]]
        return now - timedelta(**{unit: int(m[1])})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise AuditError(
            f"--since {value!r} is neither a date (2026-01-01), a timestamp, nor an age like 1h or 7d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_records(path: Path, since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Records of the audit log, oldest first, optionally only those at or after ``since``."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line would only come from a crash mid-write; skip it
            if since is not None:
                try:
                    when = datetime.fromisoformat(record["time"])
                except (KeyError, ValueError):
                    continue
                if when < since:
                    continue
            yield record
