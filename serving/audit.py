"""The API's audit trail: one JSON line per analytics/report request and per failed login.

Records go to ``settings.audit_log`` (``$PETPRO_HOME/audit/audit.jsonl``). The file is
opened with ``O_APPEND`` and every record is written with a single ``write`` call, so
concurrent workers and processes never interleave partial lines and nothing is ever
rewritten. :class:`AuditMiddleware` is a plain ASGI middleware (no response buffering) that
records time, subject, role, method, path, query parameters, status, rows returned,
publication and duration. Credentials never reach the file: parameters named like a secret
(``token``, ``api_key``, ``password``, …), values shaped like a JWT and values that are a
configured API key are written as ``[redacted]``, and every logged value is capped (see
:func:`redact_params`). :func:`read_records` is what ``petpro audit`` shows.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from petpro.errors import PetProError

AUDITED_PREFIXES = ("/analytics", "/activities", "/v2", "/reports")
REDACTED = "[redacted]"
MAX_VALUE_CHARS = 200
MAX_PARAMS = 32
MAX_VALUES_PER_PARAM = 16
# Parameter names whose value is a credential whatever it looks like (matched in lower case).
SECRET_NAME = re.compile(
    r"token|secret|passw|pwd|api[-_]?key|^key$|auth|credential|session|signature|^sig$|jwt|cookie"
)
# A JWT (header.payload.signature, base64url, the header starting with '{"' = 'eyJ').
JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


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

    def __init__(
        self, app: Any, path: Path, is_secret: Callable[[str], bool] | None = None
    ) -> None:
        self.app = app
        self.path = path
        self.log = AuditLog(path)
        # Recognises a value that is a live credential (a configured API key) under any name.
        self.is_secret = is_secret or (lambda _: False)

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
            "endpoint": _cap(JWT.sub(REDACTED, scope.get("path", ""))),
            "params": redact_params(parse_qsl(query, keep_blank_values=True), self.is_secret),
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


def redact_params(
    pairs: list[tuple[str, str]], is_secret: Callable[[str], bool] = lambda _: False
) -> dict[str, Any]:
    """Query parameters as the audit log keeps them: secrets redacted, sizes capped.

    A value is redacted when its name says it is a credential, when it contains a JWT, or
    when ``is_secret`` recognises it; other values are kept up to ``MAX_VALUE_CHARS``. At
    most ``MAX_PARAMS`` names and ``MAX_VALUES_PER_PARAM`` values each are kept, and
    ``_dropped`` counts the rest, so one request can never write an unbounded line.
    """
    params: dict[str, Any] = {}
    dropped = 0
    for raw_key, raw_value in pairs:
        key = _cap(raw_key, 64)
        if key not in params and len(params) >= MAX_PARAMS:
            dropped += 1
            continue
        secret = (
            SECRET_NAME.search(raw_key.lower()) is not None
            or JWT.search(raw_value) is not None
            or is_secret(raw_value)
        )
        value = REDACTED if secret else _cap(raw_value)
        if key in params:
            existing = params[key]
            values = existing if isinstance(existing, list) else [existing]
            if len(values) >= MAX_VALUES_PER_PARAM:
                dropped += 1
                continue
            params[key] = [*values, value]
        else:
            params[key] = value
    if dropped:
        params["_dropped"] = dropped
    return params


def _cap(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…[+{len(text) - limit} chars]"


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
