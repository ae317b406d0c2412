"""``petpro audit [--since 2026-01-01|1h]``: the API's audit trail as a table.

Reads the JSON lines ``serving.audit`` appends to ``$PETPRO_HOME/audit/audit.jsonl`` (every
analytics and report request, and every failed authentication) and shows them with rich.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from petpro.settings import get_settings

console = Console()


def audit(
    since: str | None = typer.Option(
        None,
        help="Only records from then on: a date (2026-01-01), a timestamp, or an age (90m, 1h, 7d).",
    ),
    limit: int = typer.Option(200, help="Show at most this many (the newest)."),
    failed: bool = typer.Option(False, "--failed", help="Only refused requests (401/403)."),
) -> None:
    """Show who called the analytics API, what they asked for and what they got."""
    from serving.audit import parse_since, read_records

    settings = get_settings()
    cutoff = parse_since(since) if since else None
    records = list(read_records(settings.audit_log, cutoff))
    if failed:
        records = [r for r in records if r.get("status") in (401, 403)]
    total = len(records)
    records = records[-limit:] if limit > 0 else records
    table = Table(title=f"API audit trail ({settings.audit_log})", show_lines=False)
    for col in ("time", "subject", "role", "endpoint", "params", "status", "rows", "ms"):
        table.add_column(col, overflow="fold")
    for r in records:
        status = r.get("status")
        style = "red" if isinstance(status, int) and status >= 400 else ""
        params = r.get("params") or {}
        table.add_row(
            str(r.get("time", ""))[:23],
            str(r.get("subject") or "-"),
            str(r.get("role") or "-"),
            str(r.get("endpoint", "")),
            json.dumps(params, separators=(",", ":")) if params else "",
            f"[{style}]{status}[/]" if style else str(status),
            "" if r.get("rows") is None else str(r.get("rows")),
            str(r.get("ms", "")),
            style=None,
        )
    console.print(table)
    refused = sum(1 for r in records if r.get("status") in (401, 403))
    console.print(
        f"{total} record(s){' since ' + since if since else ''}; shown {len(records)}, refused {refused}"
    )


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
