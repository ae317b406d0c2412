"""What a publication was built from, and whether anything changed since: the no-op refresh.

A refresh whose inputs are exactly those of the current publication would rebuild the same
marts, so ``petpro refresh`` skips ingestion, dbt, tests and publish when
:func:`unchanged_since_publication` says so. The inputs are:

- *the source*, per contract table: its row count and its newest ``updated_at``
  (:func:`source_state`; one index-only count and one index lookup per table). Every change
  the ingestion can see moves one of them: an insert or an update moves ``updated_at`` (the
  source's triggers maintain it, and ingestion's watermarks rely on the same fact), a hard
  delete lowers the count. Each raw ingestion asset takes its table's state *before* it
  extracts, so a row arriving during the extraction makes the recorded state older than the
  lake, never newer: the worst case is one rebuild too many, never a skipped change;
- *the code and settings that shape the marts* (:func:`build_state`): the dbt project's files,
  the Python of the floors that compute published tables (``warehouse``, ``insights``,
  ``predictions``) and the ingestion contracts, the trained model files under
  ``$PETPRO_HOME/models``, and the settings that change results (time zone, late days,
  partition start, earliest date, engine, a hash of the PII key).

The record also keeps each table's cursor column, so the check itself needs neither the
contracts nor pyarrow: ``petpro refresh`` imports typer, rich, pydantic and psycopg, and
that is all it costs when nothing changed.

The publisher writes both into the new version as ``inputs.json`` (:data:`INPUTS_FILE`),
switched in with the version itself, so the record always describes the current publication.
A publication without the file (older versions, a run that did not extract every table)
never counts as unchanged: the refresh then runs as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from petpro.publication import (
    RECORD_FILE,
    PublicationRecord,
    current_version,
    quote_ident,
)
from petpro.settings import REPO_ROOT, Settings

INPUTS_FILE = "inputs.json"
INPUTS_FORMAT = 1
# Packages whose Python computes published tables (the derived marts) or publishes them.
_CODE_PACKAGES = ("warehouse", "insights", "predictions")
_DBT_SKIP_DIRS = {"target", "logs", "dbt_packages", ".user.yml"}


def contract_cursors(tables: Iterable[str] | None = None) -> dict[str, str]:
    """``{table: cursor column}`` of the ingestion contracts (all tables by default)."""
    from ingestion.contracts import CONTRACTS

    return {t: CONTRACTS[t].cursor for t in (tables if tables is not None else CONTRACTS)}


def source_state(settings: Settings, cursors: Mapping[str, str]) -> dict[str, list[Any]]:
    """``{table: [row count, newest cursor value as ISO text or None]}`` of the source now.

    ``cursors`` maps each table to its ``updated_at`` column (:func:`contract_cursors`, or
    the map a publication recorded: the no-op check then needs no contract, hence no
    pyarrow, which would be most of its import time)."""
    from sourcedb.server import connect, source_url

    state: dict[str, list[Any]] = {}
    with connect(source_url(settings)) as conn:
        for table, cursor in cursors.items():
            row = conn.execute(
                f"select count(*), max({quote_ident(cursor)}) from {quote_ident(table)}"
            ).fetchone()
            count, newest = (row[0], row[1]) if row else (0, None)
            state[table] = [int(count), newest.isoformat() if newest is not None else None]
    return state


def _hash_files(digest: Any, root: Path, files: Iterable[Path]) -> None:
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")


def _dbt_files(project: Path) -> Iterable[Path]:
    for path in project.rglob("*"):
        rel = path.relative_to(project).parts
        if path.is_file() and not (set(rel) & _DBT_SKIP_DIRS) and path.suffix != ".msgpack":
            yield path


def build_state(settings: Settings) -> dict[str, str]:
    """Hashes of what, besides the source, shapes the published marts (see the docstring)."""
    dbt = hashlib.sha256()
    _hash_files(dbt, settings.dbt_project_dir, _dbt_files(settings.dbt_project_dir))
    code = hashlib.sha256()
    for package in _CODE_PACKAGES:
        _hash_files(code, REPO_ROOT, (REPO_ROOT / package).rglob("*.py"))
    # The contracts say which tables and columns exist in the lake (a new table must rebuild).
    _hash_files(code, REPO_ROOT, [REPO_ROOT / "ingestion" / "contracts.py"])
    models = hashlib.sha256()
    if settings.models_dir.is_dir():
        for path in sorted(settings.models_dir.rglob("*")):
            rel = path.relative_to(settings.models_dir)
            # Hidden entries are a training run's temporaries, not a model version yet.
            if not path.is_file() or any(part.startswith(".") for part in rel.parts):
                continue
            st = path.stat()
            # Size and mtime, not contents: model files can be large; a retrain writes anew.
            models.update(f"{rel}:{st.st_size}:{st.st_mtime_ns}\0".encode())
    knobs = {
        "timezone": settings.timezone,
        "late_days": settings.late_days,
        "partitions_start": settings.partitions_start.isoformat(),
        "earliest_date": settings.plausible_since.isoformat(),
        "engine": settings.engine,
        "pii_key": hashlib.sha256(settings.pii_key.encode()).hexdigest(),
    }
    return {
        "dbt_project": dbt.hexdigest(),
        "code": code.hexdigest(),
        "models": models.hexdigest(),
        "settings": hashlib.sha256(json.dumps(knobs, sort_keys=True).encode()).hexdigest(),
    }


def publication_inputs(settings: Settings, source: Mapping[str, list[Any]]) -> dict[str, Any]:
    """The record :func:`warehouse.publish.publish` writes as ``inputs.json``."""
    return {
        "format": INPUTS_FORMAT,
        "source": dict(source),
        "cursors": contract_cursors(source),
        "build": build_state(settings),
    }


def read_inputs(version_dir: Path) -> dict[str, Any] | None:
    """The inputs recorded in a version directory (None when absent or unreadable)."""
    try:
        data = json.loads((version_dir / INPUTS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == INPUTS_FORMAT else None


@dataclass(frozen=True)
class NoOpVerdict:
    """Whether the current publication already reflects the source, and why not."""

    unchanged: bool
    publication: PublicationRecord | None
    reason: str


def _record(version_dir: Path) -> PublicationRecord | None:
    """The version's ``publication.json`` (no DuckDB needed to decide a no-op refresh)."""
    try:
        return PublicationRecord.from_json(json.loads((version_dir / RECORD_FILE).read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def unchanged_since_publication(settings: Settings) -> NoOpVerdict:
    """Compare the current publication's recorded inputs with the source and build now."""
    # `current` resolved once: the record and the inputs come from the same version.
    version = current_version(settings.published_dir)
    record = _record(version.path) if version is not None and not version.legacy else None
    if record is None:
        return NoOpVerdict(False, None, "no publication records what it was built from")
    recorded = read_inputs(version.path)
    if recorded is None:
        return NoOpVerdict(False, record, "the publication does not record its inputs")
    if recorded.get("build") != build_state(settings):
        return NoOpVerdict(False, record, "the dbt project, code, models or settings changed")
    cursors = recorded.get("cursors")
    if not isinstance(cursors, dict) or set(cursors) != set(recorded.get("source", {})):
        return NoOpVerdict(False, record, "the publication's inputs are incomplete")
    # Same contracts as when it was built (build_state hashes them), so the same tables.
    now = source_state(settings, cursors)
    changed = sorted(t for t, state in now.items() if recorded["source"].get(t) != state)
    if changed:
        return NoOpVerdict(False, record, "the source changed: " + ", ".join(changed))
    return NoOpVerdict(True, record, "nothing changed in the source since it was built")
