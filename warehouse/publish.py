"""Write-audit-publish of the marts: from ``build.duckdb`` to the read-only ``published/`` tree.

dbt builds into ``$PETPRO_HOME/warehouse/build.duckdb`` (the *write*); the orchestration runs
every blocking quality gate on it (the *audit*); only then :func:`publish` copies every
``mart_*`` table into a fresh DuckDB file and a fresh folder of Parquet files and swaps them
into place (the *publish*). Readers never open the build file.

Layout after a publication (``<id>`` is sortable: UTC time + run id prefix)::

    published/
      warehouse.duckdb               regular file, replaced with os.replace (atomic rename)
      marts -> versions/<id>/marts   symlink, replaced with os.replace of a new symlink
      versions/<id>/marts/<mart>.parquet   zstd; key-value metadata petpro.run_id
      versions/<id>/marts/_publication.json

Every file is written under a temporary name, fsynced, and renamed; so a reader sees the
old publication or the new one, never a half-written file. A reader that wants several
Parquet files of *one* publication resolves the ``marts`` symlink once (``os.path.realpath``)
and reads from that folder; the last few versions are kept so such a reader is not cut
short. A publication that fails part-way leaves the previous one byte-identical.

This module is a plain library (no Dagster): the ``published_warehouse`` asset calls it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from petpro.durability import fsync_dir, fsync_file
from petpro.errors import PetProError
from petpro.settings import Settings
from petpro.vocabulary import CONTRACT_MARTS

PUBLICATION_TABLE = "_publication"
PUBLICATION_JSON = "_publication.json"
RUN_ID_KEY = "petpro.run_id"
DEFAULT_KEEP_VERSIONS = 4


class PublishError(PetProError):
    """The marts could not be published; the previous publication is left untouched."""


@dataclass(frozen=True)
class Publication:
    """What a publication put in place."""

    run_id: str
    version: str
    published_at: datetime
    high_water_mark: datetime | None
    row_counts: dict[str, int]
    database: Path
    marts_dir: Path
    seconds: float
    missing_contract_marts: tuple[str, ...] = field(default_factory=tuple)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_marts(build_db: Path) -> list[str]:
    """Names of the ``mart_*`` relations in schema ``main`` of the build database."""
    if not build_db.exists():
        raise PublishError(
            f"the build warehouse {build_db} does not exist: run `petpro refresh` first"
        )
    with duckdb.connect(str(build_db), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_name like 'mart\\_%' escape '\\' "
            "order by table_name"
        ).fetchall()
    return [r[0] for r in rows]


def lake_high_water_mark(settings: Settings) -> datetime | None:
    """The max activity ``timestamp`` in the lake (None when the lake holds no activity)."""
    files = list((settings.raw_dir / "activities").glob("event_date=*/data.parquet"))
    if not files:
        return None
    pattern = str(settings.raw_dir / "activities" / "event_date=*" / "data.parquet")
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        value = con.execute(
            f'select max("timestamp") from read_parquet({_literal(pattern)}, hive_partitioning = false)'
        ).fetchone()[0]
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _version_id(run_id: str, now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{run_id[:8]}"


def publish(
    settings: Settings,
    *,
    run_id: str | None = None,
    high_water_mark: datetime | None = None,
    keep_versions: int = DEFAULT_KEEP_VERSIONS,
) -> Publication:
    """Copy every mart of ``build.duckdb`` into ``published/`` and swap it in atomically.

    Call only after every blocking check passed. ``high_water_mark`` defaults to the max
    activity timestamp in the lake. Raises :class:`PublishError` (previous publication
    untouched) when there is nothing to publish or a step fails.
    """
    started = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    if settings.engine == "spark":
        # Spark wrote the marts as Parquet tables: load them into build.duckdb first, so the
        # rest of this function publishes them exactly as after a DuckDB build.
        from warehouse.spark_marts import load_spark_marts

        load_spark_marts(settings)
    marts = build_marts(settings.build_db)
    if not marts:
        raise PublishError(
            f"{settings.build_db} holds no mart_* table: the dbt build did not produce the marts"
        )
    if high_water_mark is None:
        high_water_mark = lake_high_water_mark(settings)
    now = datetime.now(UTC)
    version = _version_id(run_id, now)

    published = settings.published_dir
    versions_dir = published / "versions"
    versions_dir.mkdir(parents=True, exist_ok=True)
    tmp_version = versions_dir / f".{version}.tmp"
    version_dir = versions_dir / version
    tmp_db = published / f".warehouse.{version}.tmp.duckdb"
    row_counts: dict[str, int] = {}
    try:
        marts_dir = tmp_version / "marts"
        marts_dir.mkdir(parents=True)
        with duckdb.connect(str(tmp_db)) as con:
            con.execute("set TimeZone = 'UTC'")
            con.execute(f"attach {_literal(str(settings.build_db))} as build (read_only)")
            for mart in marts:
                q = _quote(mart)
                con.execute(f"create table main.{q} as select * from build.main.{q}")
                row_counts[mart] = con.execute(f"select count(*) from main.{q}").fetchone()[0]
            con.execute("detach build")
            con.execute(
                f"create table {PUBLICATION_TABLE} (published_at timestamptz, "
                "high_water_mark timestamptz, run_id varchar, mart varchar, row_count bigint)"
            )
            con.executemany(
                f"insert into {PUBLICATION_TABLE} values (?, ?, ?, ?, ?)",
                [(now, high_water_mark, run_id, m, n) for m, n in row_counts.items()],
            )
            # Parquet from the same tables, so both forms of a publication hold the same rows.
            for mart in marts:
                target = marts_dir / f"{mart}.parquet"
                con.execute(
                    f"copy main.{_quote(mart)} to {_literal(str(target))} (format parquet, "
                    f"compression zstd, kv_metadata {{{_quote(RUN_ID_KEY)}: {_literal(run_id)}}})"
                )
            con.execute("checkpoint")
        manifest = {
            "run_id": run_id,
            "version": version,
            "published_at": now.isoformat(),
            "high_water_mark": high_water_mark.isoformat() if high_water_mark else None,
            "marts": row_counts,
        }
        (marts_dir / PUBLICATION_JSON).write_text(json.dumps(manifest, indent=2))
        for path in marts_dir.iterdir():
            fsync_file(path)
        fsync_dir(marts_dir)
        fsync_file(tmp_db)
        tmp_version.rename(version_dir)
        fsync_dir(versions_dir)
    except Exception as exc:
        shutil.rmtree(tmp_version, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            tmp_db.unlink()
        if isinstance(exc, PetProError):
            raise
        raise PublishError(
            f"publishing the marts failed ({type(exc).__name__}: {exc}); the previous "
            "publication is unchanged"
        ) from exc

    # The swap: two renames, each atomic; readers of either form see old or new, whole.
    _swap_marts_link(published, version)
    os.replace(tmp_db, settings.published_db)
    fsync_dir(published)
    prune_versions(settings, keep=keep_versions)
    return Publication(
        run_id=run_id,
        version=version,
        published_at=now,
        high_water_mark=high_water_mark,
        row_counts=row_counts,
        database=settings.published_db,
        marts_dir=settings.published_marts_dir,
        seconds=time.perf_counter() - started,
        missing_contract_marts=tuple(m for m in CONTRACT_MARTS if m not in row_counts),
    )


def _swap_marts_link(published: Path, version: str) -> None:
    link = published / "marts"
    if link.exists() and not link.is_symlink():
        # A plain folder from an older layout: move it aside so the symlink can take its place.
        link.rename(published / "versions" / f"legacy-{uuid.uuid4().hex[:8]}")
    tmp_link = published / f".marts.{version}.tmp"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    # Relative target: the tree stays valid if PETPRO_HOME is moved.
    tmp_link.symlink_to(Path("versions") / version / "marts", target_is_directory=True)
    os.replace(tmp_link, link)


def current_version(settings: Settings) -> str | None:
    """The version folder the ``published/marts`` link points at (None before any)."""
    link = settings.published_marts_dir
    if not link.is_symlink():
        return None
    return Path(os.readlink(link)).parent.name


def prune_versions(settings: Settings, *, keep: int = DEFAULT_KEEP_VERSIONS) -> list[str]:
    """Delete all but the newest ``keep`` version folders (never the current one)."""
    versions_dir = settings.published_dir / "versions"
    if not versions_dir.is_dir():
        return []
    current = current_version(settings)
    names = sorted(
        p.name for p in versions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    doomed = [n for n in names[: max(len(names) - keep, 0)] if n != current]
    for name in doomed:
        shutil.rmtree(versions_dir / name, ignore_errors=True)
    return doomed


@dataclass(frozen=True)
class PublicationInfo:
    """What ``published/warehouse.duckdb`` says about itself."""

    run_id: str
    published_at: datetime
    high_water_mark: datetime | None
    row_counts: dict[str, int]

    def age_hours(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (now - self.published_at).total_seconds() / 3600


def read_publication(settings: Settings) -> PublicationInfo | None:
    """The ``_publication`` record of the published database (None when nothing is published)."""
    path = settings.published_db
    if not path.exists():
        return None
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        rows = con.execute(
            f"select run_id, published_at, high_water_mark, mart, row_count from {PUBLICATION_TABLE}"
        ).fetchall()
    if not rows:
        return None
    first = rows[0]
    return PublicationInfo(
        run_id=first[0],
        published_at=first[1],
        high_water_mark=first[2],
        row_counts={r[3]: int(r[4]) for r in rows},
    )
