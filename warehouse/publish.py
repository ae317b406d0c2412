"""Write-audit-publish of the marts: from ``build.duckdb`` to the read-only ``published/`` tree.

dbt builds into ``$PETPRO_HOME/warehouse/build.duckdb`` (the *write*); the orchestration runs
every blocking quality gate on it (the *audit*); only then :func:`publish` copies every
``mart_*`` table into a new version directory and switches readers to it (the *publish*).
Readers never open the build file; they read through :mod:`petpro.publication`, which names
this layout::

    published/
      current -> versions/<id>             relative symlink, replaced by os.replace: THE switch
      versions/<id>/warehouse.duckdb       marts + _publication (run id, times, row counts)
                                           + _publication_customers (its customer ids)
      versions/<id>/marts/<mart>.parquet   the same rows, for every mart but the per-customer
                                           ones; zstd 1; key-value metadata petpro.run_id
      versions/<id>/publication.json       the record (run id, version, times, row counts)
      .lock                                held by the publisher (flock) from cleanup to prune

A version is written under a hidden temporary name (``versions/.<id>.tmp``), fsynced and
renamed into place whole; then one ``os.replace`` of the ``current`` link publishes it. That
is the only step readers can observe, so a crash anywhere leaves every reader — of the DuckDB
file or of the Parquet files — on the old publication or on the new one, never on a mix.

Housekeeping happens under the lock, so nothing it finds can belong to a running publisher:

- *leftovers* of a crashed publish — hidden entries (temporary version directories, links,
  versions renamed aside for deletion) and *orphans* (complete versions newer than
  ``current``, renamed into place but never switched in) — are removed at the start of the
  next publish; they never count as kept versions;
- *retention*: the newest ``keep_versions`` published versions stay (the current one always),
  so a reader that resolved ``current`` a moment ago can finish;
- *erasure*: an older version that still holds a customer the new publication no longer has
  (a customer erased from the source) is deleted as soon as the new one is current;
- *migration*: a home published by the earlier layout (``published/warehouse.duckdb`` file
  and ``published/marts`` link, switched in two renames) is converted by the next publish.

*Derived marts.* Statistics and models (anomalies, trends, churn scores, recommendations)
are computed in Python from the marts, and belong to the same publication as the marts they
come from. ``publish(..., derive=[...])`` runs each :data:`Deriver` on the *staged* version —
after the dbt marts are copied into it, before its record is written and before the switch —
with a connection to the staged DuckDB file; the tables a deriver returns become marts of
the same version (DuckDB and Parquet, counted in the record). Derivers therefore read what
readers will read, never ``build.duckdb``; a deriver that fails fails the publish, and the
previous publication stays current.

This module is a plain library (no Dagster): the ``published_warehouse`` asset calls it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from petpro.duckdb_cache import memory_limit as duckdb_memory_limit
from petpro.duckdb_cache import release_cached_pages
from petpro.durability import fsync_dir, fsync_file
from petpro.errors import PetProError
from petpro.publication import (
    CURRENT,
    CUSTOMERS_TABLE,
    DATABASE_FILE,
    MARTS_DIR,
    PUBLICATION_TABLE,
    RECORD_FILE,
    RUN_ID_KEY,
    VERSIONS,
    PublicationRecord,
    RecordFields,
    current_version,
    has_parquet,
    quote_ident,
    quote_literal,
)
from petpro.publication import read_publication as _read_publication
from petpro.settings import Settings
from petpro.vocabulary import CONTRACT_MARTS, CUSTOMER_LEVEL_MARTS
from warehouse.inputs import INPUTS_FILE

DEFAULT_KEEP_VERSIONS = 4

# A derived-marts step: given a connection to the staged version (its dbt marts are there),
# return new marts by name (``mart_*``, not already in the version) as Arrow tables.
Deriver = Callable[[duckdb.DuckDBPyConnection], Mapping[str, pa.Table]]
_MART_NAME = re.compile(r"mart_[a-z0-9_]+")
LOCK_FILE = ".lock"
_VERSION_TIME = "%Y%m%dT%H%M%S%fZ"


class PublishError(PetProError):
    """The marts could not be published; the previous publication is left untouched."""


@dataclass(frozen=True)
class PublishResult(RecordFields):
    """What one call of :func:`publish` put in place and what it cleaned up."""

    record: PublicationRecord
    version_dir: Path
    seconds: float
    missing_contract_marts: tuple[str, ...] = ()
    cleaned: tuple[str, ...] = ()  # leftovers of crashed publishes (and of the old layout)
    pruned: tuple[str, ...] = ()  # versions beyond retention
    erased: tuple[str, ...] = ()  # versions holding customers the new one no longer has

    @property
    def database(self) -> Path:
        return self.version_dir / DATABASE_FILE

    @property
    def marts_dir(self) -> Path:
        return self.version_dir / MARTS_DIR


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
            f'select max("timestamp") from read_parquet({quote_literal(pattern)}, hive_partitioning = false)'
        ).fetchone()[0]
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_publication(settings: Settings) -> PublicationRecord | None:
    """The current publication's record (None before any): :func:`petpro.publication.read_publication`."""
    return _read_publication(settings.published_dir)


# ---- the tree ---------------------------------------------------------------------------
@contextmanager
def _publisher_lock(published: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``published/.lock``; the kernel drops it when the process dies."""
    published.mkdir(parents=True, exist_ok=True)
    with (published / LOCK_FILE).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _is_complete(path: Path) -> bool:
    """A version renamed into place: both forms and the record are there (dot names never)."""
    return (
        not path.name.startswith(".")
        and path.is_dir()
        and not path.is_symlink()
        and (path / DATABASE_FILE).is_file()
        and (path / RECORD_FILE).is_file()
    )


def _remove(path: Path) -> None:
    """Delete a file, link or directory; a directory is renamed aside first (hidden name), so
    a crash half-way leaves a leftover the next publish removes, never a half version."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    aside = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.old"
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _current_name(published: Path) -> str | None:
    """The version ``current`` points at, when the new layout is in place."""
    version = current_version(published)
    if version is None or version.legacy:
        return None
    return version.name


def remove_leftovers(settings: Settings) -> list[str]:
    """Remove what crashed publishes left: hidden temporaries and orphan versions (lock held).

    An orphan is a complete version newer than ``current`` (or any complete version when
    nothing is current): it was renamed into place but never switched in. Version ids only
    grow, so every version older than ``current`` was current once.
    """
    published = settings.published_dir
    versions_dir = published / VERSIONS
    removed: list[str] = []
    if published.is_dir():
        for entry in published.iterdir():
            if entry.name.startswith(".") and entry.name != LOCK_FILE:
                _remove(entry)
                removed.append(entry.name)
    if not versions_dir.is_dir():
        return removed
    current = _current_name(published)
    for entry in sorted(versions_dir.iterdir()):
        hidden = entry.name.startswith(".")
        orphan = _is_complete(entry) and (current is None or entry.name > current)
        if hidden or orphan:
            _remove(entry)
            removed.append(f"{VERSIONS}/{entry.name}")
    if removed:
        fsync_dir(versions_dir)
    return removed


def _retire_legacy(published: Path) -> list[str]:
    """Remove the earlier layout's ``warehouse.duckdb`` file and ``marts`` link (after the switch)."""
    removed = []
    for name in (DATABASE_FILE, MARTS_DIR):
        entry = published / name
        if entry.exists() or entry.is_symlink():
            _remove(entry)
            removed.append(name)
    if removed:
        fsync_dir(published)
    return removed


def prune_versions(settings: Settings, *, keep: int = DEFAULT_KEEP_VERSIONS) -> list[str]:
    """Keep the newest ``keep`` published versions (the current one always); delete the rest.

    Anything else in ``versions/`` — folders of the earlier layout (Parquet only) or versions
    newer than ``current`` — is not a published version and is removed too.
    """
    published = settings.published_dir
    versions_dir = published / VERSIONS
    current = _current_name(published)
    if current is None or not versions_dir.is_dir():
        return []
    entries = sorted(versions_dir.iterdir())
    published_versions = [e.name for e in entries if _is_complete(e) and e.name <= current]
    kept = set(published_versions[-max(keep, 1) :]) | {current}
    doomed = [e for e in entries if e.name not in kept and not e.name.startswith(".")]
    for entry in doomed:
        _remove(entry)
    if doomed:
        fsync_dir(versions_dir)
    return [e.name for e in doomed]


def _customer_id_sets(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    """Queries (one column ``id``) that together give every customer id of a version.

    One query of the version's stored id set when it has one; per customer-level mart for a
    version published before the set was stored, or whose stored table lacks the
    ``customer_id`` column (it is read the long way, never trusted empty)."""
    with_ids = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.columns where table_catalog = ? "
            "and table_schema = 'main' and column_name = 'customer_id'",
            [catalog],
        ).fetchall()
    }
    if CUSTOMERS_TABLE in with_ids:
        return [f"select customer_id as id from {catalog}.main.{CUSTOMERS_TABLE}"]
    return [
        f"select customer_id::varchar as id from {catalog}.main.{quote_ident(m)}"
        for m in sorted(with_ids & CUSTOMER_LEVEL_MARTS)
    ]


def prune_erased(settings: Settings) -> list[str]:
    """Delete every older version holding a customer the current publication no longer has.

    Customers leave the marts when they are erased from the source (privacy erasure); the
    customer ids of each kept version are compared with those of the current one, and a
    version holding any id the current one lacks is removed at once rather than waiting for
    retention. Each version stores its ids (``_publication_customers``), so this compares two
    sets of one row per customer: re-scanning the customer-level marts of three older
    versions took 5 of the 6.5 s of this check at 320,000 customers
    (docs/orchestration.md, "The erasure check on stored customer sets").
    """
    published = settings.published_dir
    version = current_version(published)
    if version is None or version.legacy:
        return []
    others = [
        p
        for p in sorted((published / VERSIONS).iterdir())
        if _is_complete(p) and p.name != version.name
    ]
    if not others:
        return []
    doomed: list[Path] = []
    with duckdb.connect() as con:
        con.execute(f"attach {quote_literal(str(version.database))} as cur (read_only)")
        kept = _customer_id_sets(con, "cur")
        if not kept:
            return []
        con.execute(f"create temp table kept as {' union '.join(kept)}")
        for other in others:
            try:
                con.execute(
                    f"attach {quote_literal(str(other / DATABASE_FILE))} as old (read_only)"
                )
            except duckdb.Error:
                doomed.append(other)  # unreadable: it cannot be shown to be free of them
                continue
            try:
                for ids in _customer_id_sets(con, "old"):
                    gone = con.execute(
                        f"select exists (select 1 from ({ids}) as t anti join kept on t.id = kept.id)"
                    ).fetchone()[0]
                    if gone:
                        doomed.append(other)
                        break
            finally:
                con.execute("detach old")
    for path in doomed:
        _remove(path)
    if doomed:
        fsync_dir(published / VERSIONS)
    return [p.name for p in doomed]


# ---- one publication --------------------------------------------------------------------
def _version_id(run_id: str, now: datetime, after: str | None) -> str:
    """``<UTC time>-<run id prefix>``, strictly after ``after`` even if the clock went back."""
    stamp = now.astimezone(UTC)
    if after is not None:
        with_time = after.split("-", 1)[0]
        try:
            last = datetime.strptime(with_time, _VERSION_TIME).replace(tzinfo=UTC)
        except ValueError:
            last = None
        if last is not None and stamp <= last:
            stamp = last + timedelta(microseconds=1)
    tag = re.sub(r"[^A-Za-z0-9_]", "_", run_id)[:8]
    return f"{stamp.strftime(_VERSION_TIME)}-{tag}"


def _write_version(
    folder: Path,
    build_db: Path,
    marts: list[str],
    *,
    run_id: str,
    version: str,
    published_at: datetime,
    high_water_mark: datetime | None,
    derive: Sequence[Deriver] = (),
    inputs: Mapping[str, object] | None = None,
    memory_limit: str | None = None,
) -> PublicationRecord:
    """Fill ``folder`` with the DuckDB file, the Parquet marts and the record; fsync it all.

    ``memory_limit`` bounds DuckDB's buffer pool for the copy and the derived marts, which
    run on cursors of this connection (it spills to ``warehouse.duckdb.tmp`` beside the
    staged file, removed when the connection closes). Unbounded, DuckDB keeps the pages of
    every table it copied, up to 80 % of RAM: a 320,000-customer publication peaked at 1.9 GB,
    1.4-1.5 GB at 512MB (docs/orchestration.md, "The publication's memory")."""
    marts_dir = folder / MARTS_DIR
    marts_dir.mkdir(parents=True)
    database = folder / DATABASE_FILE
    row_counts: dict[str, int] = {}
    with duckdb.connect(str(database)) as con:
        con.execute("set TimeZone = 'UTC'")
        if memory_limit is not None:
            con.execute(f"set memory_limit = {quote_literal(memory_limit)}")
        con.execute(f"attach {quote_literal(str(build_db))} as build (read_only)")
        for mart in marts:
            q = quote_ident(mart)
            con.execute(f"create table main.{q} as select * from build.main.{q}")
            row_counts[mart] = con.execute(f"select count(*) from main.{q}").fetchone()[0]
        con.execute("detach build")
        limit = memory_limit or duckdb_memory_limit(con)
        for deriver in derive:
            # Each derived step starts from an empty pool, not from the pages the copy or the
            # step before it read (docs/orchestration.md, "Cached pages released between
            # steps").
            release_cached_pages(con, limit)
            for name, table in _derived_marts(con, deriver, row_counts).items():
                con.register("_petpro_derived", table)
                con.execute(f"create table main.{quote_ident(name)} as from _petpro_derived")
                con.unregister("_petpro_derived")
                row_counts[name] = table.num_rows
        release_cached_pages(con, limit)
        # The version's customer ids, for the erasure check of the publications after it;
        # named customer_id like every column of customer ids, so audits that look for them
        # by that name (the erasure test's oracle) see this table too.
        ids = _customer_id_sets(con, con.execute("select current_database()").fetchone()[0])
        if ids:
            con.execute(
                f"create table {CUSTOMERS_TABLE} as select id as customer_id from "
                f"({' union '.join(ids)})"
            )
        con.execute(
            f"create table {PUBLICATION_TABLE} (published_at timestamptz, "
            "high_water_mark timestamptz, run_id varchar, mart varchar, row_count bigint)"
        )
        con.executemany(
            f"insert into {PUBLICATION_TABLE} values (?, ?, ?, ?, ?)",
            [(published_at, high_water_mark, run_id, m, n) for m, n in row_counts.items()],
        )
        # Parquet from the same tables, so both forms of a publication hold the same rows.
        # zstd level 1: on the 320,000-customer marts, writes took 0.70-0.75 of the time of
        # the default level 3, files 1 % smaller (docs/orchestration.md, "Parquet at zstd level 1").
        # Not for the per-customer marts: only the API reads them, from the DuckDB file, and
        # they are never a report file; their Parquet copies were 8.8-9.5 s and 472 MB of a
        # 320,000-customer publication (docs/orchestration.md, "Per-customer marts in the
        # DuckDB file only").
        for mart in filter(has_parquet, row_counts):
            target = marts_dir / f"{mart}.parquet"
            con.execute(
                f"copy main.{quote_ident(mart)} to {quote_literal(str(target))} (format parquet, "
                f"compression zstd, compression_level 1, kv_metadata {{{quote_ident(RUN_ID_KEY)}: "
                f"{quote_literal(run_id)}}})"
            )
        con.execute("checkpoint")
    record = PublicationRecord(run_id, version, published_at, high_water_mark, row_counts)
    (folder / RECORD_FILE).write_text(json.dumps(record.to_json(), indent=2) + "\n")
    if inputs is not None:
        # What this version was built from (warehouse.inputs): switched in with the version.
        (folder / INPUTS_FILE).write_text(json.dumps(inputs, indent=2, sort_keys=True) + "\n")
        fsync_file(folder / INPUTS_FILE)
    for path in marts_dir.iterdir():
        fsync_file(path)
    fsync_dir(marts_dir)
    fsync_file(database)
    fsync_file(folder / RECORD_FILE)
    fsync_dir(folder)
    return record


def _derived_marts(
    con: duckdb.DuckDBPyConnection, deriver: Deriver, present: Mapping[str, int]
) -> Mapping[str, pa.Table]:
    """Run one deriver on the staged version and check what it returns."""
    name = getattr(deriver, "__name__", None) or getattr(
        getattr(deriver, "func", None), "__name__", repr(deriver)
    )
    # A deriver gets its own cursor: it may set options or create temp objects freely.
    with con.cursor() as cursor:
        cursor.execute("set TimeZone = 'UTC'")
        tables = deriver(cursor)
    for mart, table in tables.items():
        if not _MART_NAME.fullmatch(mart) or mart in present:
            raise PublishError(
                f"derived step {name} returned a table named {mart!r}: derived marts need a new "
                "name of the form mart_<lowercase>"
            )
        if not isinstance(table, pa.Table):
            raise PublishError(
                f"derived step {name} returned {type(table).__name__} for {mart}; expected a "
                "pyarrow.Table"
            )
    return tables


def _switch_current(published: Path, version: str) -> None:
    """Point ``current`` at ``versions/<version>``: the one step readers can observe."""
    link = published / CURRENT
    if link.exists() and not link.is_symlink():
        raise PublishError(
            f"{link} is not a symlink: move it away, then publish again with `petpro refresh`"
        )
    tmp = published / f".{CURRENT}.{version}.tmp"
    tmp.unlink(missing_ok=True)
    # Relative target: the tree stays valid if PETPRO_HOME is moved or mounted elsewhere.
    tmp.symlink_to(Path(VERSIONS) / version, target_is_directory=True)
    os.replace(tmp, link)
    fsync_dir(published)


def publish(
    settings: Settings,
    *,
    run_id: str | None = None,
    high_water_mark: datetime | None = None,
    keep_versions: int = DEFAULT_KEEP_VERSIONS,
    published_at: datetime | None = None,
    derive: Sequence[Deriver] = (),
    inputs: Mapping[str, object] | None = None,
) -> PublishResult:
    """Copy every mart of ``build.duckdb`` into a new version and switch ``current`` to it.

    Call only after every blocking check passed. ``high_water_mark`` defaults to the max
    activity timestamp in the lake, ``published_at`` to now. ``derive`` adds derived marts
    computed from the staged version (see the module docstring). ``inputs`` (see
    :mod:`warehouse.inputs`) is written into the version as what it was built from. Raises
    :class:`PublishError` (previous publication untouched) when there is nothing to publish
    or a step fails.
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
    stamp = published_at or datetime.now(UTC)

    published = settings.published_dir
    versions_dir = published / VERSIONS
    with _publisher_lock(published):
        cleaned = remove_leftovers(settings)
        versions_dir.mkdir(parents=True, exist_ok=True)
        newest = max((p.name for p in versions_dir.iterdir() if _is_complete(p)), default=None)
        version = _version_id(run_id, stamp, newest)
        tmp = versions_dir / f".{version}.tmp"
        try:
            record = _write_version(
                tmp,
                settings.build_db,
                marts,
                run_id=run_id,
                version=version,
                published_at=stamp,
                high_water_mark=high_water_mark,
                derive=derive,
                inputs=inputs,
                memory_limit=settings.publish_memory_limit,
            )
            os.rename(tmp, versions_dir / version)
            fsync_dir(versions_dir)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, PetProError):
                raise
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise PublishError(
                    "publishing the marts ran out of memory: DuckDB may use "
                    f"PETPRO_PUBLISH_MEMORY_LIMIT={settings.publish_memory_limit}; raise it "
                    "(e.g. 1GB). The previous publication is unchanged"
                ) from exc
            raise PublishError(
                f"publishing the marts failed ({type(exc).__name__}: {exc}); the previous "
                "publication is unchanged"
            ) from exc

        _switch_current(published, version)

        # Published. What follows only removes files readers no longer reach through
        # `current`; whatever a failure here leaves behind, the next publish retries.
        try:
            cleaned += _retire_legacy(published)
            pruned = prune_versions(settings, keep=keep_versions)
            erased = prune_erased(settings)
        except (OSError, duckdb.Error) as exc:
            raise PublishError(
                f"published version {version}, but removing older versions failed "
                f"({type(exc).__name__}: {exc}); the next publish retries it"
            ) from exc
    return PublishResult(
        record=record,
        version_dir=versions_dir / version,
        seconds=time.perf_counter() - started,
        missing_contract_marts=tuple(m for m in CONTRACT_MARTS if m not in record.row_counts),
        cleaned=tuple(cleaned),
        pruned=tuple(pruned),
        erased=tuple(erased),
    )
