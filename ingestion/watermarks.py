"""Extraction watermarks: how far each table's lake copy is known to be complete.

One small JSON file per table, ``lake/_state/<table>.json``, written atomically, holding the
highest source ``updated_at`` whose rows are in the lake. A watermark is saved only after
the files it covers are in place, so a crash at any point leaves an older watermark and the
next run re-extracts (idempotently) what may be missing. The watermark is read from the
source *before* extracting: rows changed during the extraction are newer than it and are
picked up by the next run; rows committed late with an older ``updated_at`` are covered by
the look-back window.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ingestion.contracts import CONTRACT_VERSION
from ingestion.lake import read_json, remove, write_json
from petpro.settings import Settings


def state_path(settings: Settings, table: str) -> Path:
    return settings.state_dir / f"{table}.json"


def load(settings: Settings, table: str) -> datetime | None:
    """The table's watermark, or None when it was never (fully) extracted."""
    state = read_json(state_path(settings, table))
    if not state or state.get("contract_version") != CONTRACT_VERSION or not state.get("watermark"):
        return None
    return datetime.fromisoformat(state["watermark"])


def gate(settings: Settings, table: str) -> dict[str, Any] | None:
    """The row-gate settings the table's lake copy was checked with (None if unknown)."""
    state = read_json(state_path(settings, table))
    return state.get("gate") if state else None


def save(settings: Settings, table: str, watermark: datetime | None, **extra: Any) -> None:
    write_json(
        state_path(settings, table),
        {
            "table": table,
            "contract_version": CONTRACT_VERSION,
            "watermark": watermark.isoformat() if watermark else None,
            **extra,
        },
    )


def reset(settings: Settings, table: str) -> None:
    remove(state_path(settings, table))
