"""The read side of a publication: where it lives, what it records, how to open it read-only.

A publication is one immutable directory ``published/versions/<id>/`` holding the marts in
``warehouse.duckdb``, every mart but the per-customer ones again as ``marts/<mart>.parquet``
(:func:`has_parquet`), and its record (``publication.json``, the same facts as the
``_publication`` table of the DuckDB file). ``published/current`` is one
relative symlink to the current version; the publisher (``warehouse.publish``) switches it
with a single ``os.replace``, so a reader that resolves ``current`` once and reads every file
from that directory sees exactly one publication, in both forms, whatever is published
meanwhile. This module is that reader for everybody (exports, the API, the CLI, Dagster's
freshness check) and names the layout the publisher writes: the file names, the record and
its table, the error when nothing is published, and the SQL quoting both sides use. It
imports only the standard library, DuckDB and the ground floor.

A home published by the earlier two-rename layout (``published/warehouse.duckdb`` as a plain
file beside a ``published/marts`` link) is read as one version named ``legacy`` until the next
publication converts it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from petpro.errors import PetProError
from petpro.vocabulary import CUSTOMER_LEVEL_MARTS

if TYPE_CHECKING:  # duckdb is imported where used: Settings imports this module's names
    import duckdb

CURRENT = "current"
VERSIONS = "versions"
DATABASE_FILE = "warehouse.duckdb"
MARTS_DIR = "marts"
RECORD_FILE = "publication.json"
PUBLICATION_TABLE = "_publication"
# The distinct customer ids of a version's customer-level marts, written with the version so
# the erasure check compares two small sets instead of re-scanning every older version.
CUSTOMERS_TABLE = "_publication_customers"
RUN_ID_KEY = "petpro.run_id"  # key-value metadata of every published Parquet file
LEGACY_VERSION = "legacy"

# The one query of the record; epoch microseconds keep it independent of the session time zone.
RECORD_QUERY = (
    "select run_id, epoch_us(published_at), epoch_us(high_water_mark), mart, row_count "
    f"from {PUBLICATION_TABLE}"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NothingPublishedError(PetProError):
    """There is no (readable) publication to read yet."""


def quote_ident(identifier: str) -> str:
    """A SQL identifier, double-quoted (DuckDB and PostgreSQL rules)."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A SQL string literal, for the few statements that take no parameters (ATTACH, COPY)."""
    return "'" + text.replace("'", "''") + "'"


def _from_epoch_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class PublicationRecord:
    """What one publication says about itself (``_publication`` / ``publication.json``)."""

    run_id: str
    version: str
    published_at: datetime
    high_water_mark: datetime | None
    row_counts: dict[str, int]

    @property
    def marts(self) -> tuple[str, ...]:
        """The marts of this publication, sorted by name."""
        return tuple(sorted(self.row_counts))

    def age_hours(self, now: datetime | None = None) -> float:
        now = now or datetime.now(UTC)
        return (now - self.published_at).total_seconds() / 3600

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublicationRecord:
        """The record :meth:`to_json` wrote (``publication.json``); KeyError/ValueError if not."""
        mark = data.get("high_water_mark")
        return cls(
            run_id=str(data["run_id"]),
            version=str(data["version"]),
            published_at=datetime.fromisoformat(data["published_at"]),
            high_water_mark=datetime.fromisoformat(mark) if mark else None,
            row_counts={str(k): int(v) for k, v in (data.get("marts") or {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "version": self.version,
            "published_at": _iso(self.published_at),
            "high_water_mark": _iso(self.high_water_mark),
            "marts": dict(sorted(self.row_counts.items())),
        }


class RecordFields:
    """The record's fields read through an object that holds a ``record`` (writer and reader)."""

    record: PublicationRecord

    @property
    def run_id(self) -> str:
        return self.record.run_id

    @property
    def version(self) -> str:
        return self.record.version

    @property
    def published_at(self) -> datetime:
        return self.record.published_at

    @property
    def high_water_mark(self) -> datetime | None:
        return self.record.high_water_mark

    @property
    def row_counts(self) -> dict[str, int]:
        return self.record.row_counts


@dataclass(frozen=True)
class PublishedVersion:
    """One publication on disk: a directory whose files never change once renamed into place."""

    path: Path
    legacy: bool = False

    @property
    def name(self) -> str:
        return LEGACY_VERSION if self.legacy else self.path.name

    @property
    def database(self) -> Path:
        return self.path / DATABASE_FILE

    @property
    def marts_dir(self) -> Path:
        return self.path / MARTS_DIR

    @property
    def record_file(self) -> Path:
        return self.path / RECORD_FILE


def has_parquet(mart: str) -> bool:
    """Whether a publication holds ``mart`` as a Parquet file too: every mart but the
    per-customer ones, which only the API reads (from the DuckDB file) and which are never a
    report file."""
    return mart not in CUSTOMER_LEVEL_MARTS


def current_version(published_dir: Path) -> PublishedVersion | None:
    """The version ``published/current`` points at, resolved once (None before any publication).

    Read both the DuckDB file and the Parquet files of one publication from the returned
    directory: resolving ``current`` again later may give a newer publication.
    """
    link = published_dir / CURRENT
    try:
        target = os.readlink(link)  # one system call: the switch is atomic for us too
    except FileNotFoundError:
        legacy = published_dir / DATABASE_FILE
        if legacy.is_file() and not legacy.is_symlink():
            return PublishedVersion(published_dir, legacy=True)
        return None
    except OSError:  # not a symlink: a directory put there by hand is read as it is
        return PublishedVersion(link) if link.is_dir() else None
    return PublishedVersion(Path(os.path.normpath(published_dir / target)))


def read_record(con: duckdb.DuckDBPyConnection, version: str) -> PublicationRecord:
    """The record of the publication ``con`` has open (the newest run when several are listed)."""
    import duckdb

    try:
        rows = con.execute(RECORD_QUERY).fetchall()
    except duckdb.CatalogException as exc:
        raise NothingPublishedError(
            f"publication {version} has no {PUBLICATION_TABLE} table, so the pipeline did not "
            "publish it: run `petpro refresh`"
        ) from exc
    if not rows:
        raise NothingPublishedError(
            f"publication {version} records no published mart: run `petpro refresh`"
        )
    newest = max(rows, key=lambda r: (r[1] or 0, str(r[0])))
    published_at = _from_epoch_us(newest[1])
    if published_at is None:
        raise NothingPublishedError(
            f"publication {version} has no published_at: publish again with `petpro refresh`"
        )
    marks = [r[2] for r in rows if r[2] is not None]
    return PublicationRecord(
        run_id=str(newest[0]),
        version=version,
        published_at=published_at,
        high_water_mark=_from_epoch_us(max(marks)) if marks else None,
        row_counts={str(r[3]): int(r[4] or 0) for r in sorted(rows, key=lambda r: str(r[3]))},
    )


@dataclass
class OpenPublication:
    """A publication opened read-only: its directory, its DuckDB connection and its record."""

    version: PublishedVersion
    con: duckdb.DuckDBPyConnection
    record: PublicationRecord

    def close(self) -> None:
        self.con.close()


def open_version(version: PublishedVersion) -> OpenPublication:
    """Open one version's DuckDB file read-only and read its record; the caller closes it.

    Every version has its own path and never changes, so DuckDB's per-path instance cache
    cannot hand back another publication, and an open connection keeps reading its file even
    after the publisher prunes the version (Linux keeps an unlinked file while it is open).
    """
    import duckdb

    if not version.database.is_file():
        raise NothingPublishedError(
            f"the current publication {version.path} has no {DATABASE_FILE}: "
            "publish again with `petpro refresh`"
        )
    try:
        con = duckdb.connect(str(version.database), read_only=True)
    except duckdb.Error as exc:
        raise NothingPublishedError(
            f"cannot open the published warehouse {version.database} read-only ({exc}); "
            "publish again with `petpro refresh`"
        ) from exc
    try:
        record = read_record(con, version.name)
    except BaseException:
        con.close()
        raise
    return OpenPublication(version, con, record)


def open_current_publication(published_dir: Path, *, attempts: int = 3) -> OpenPublication:
    """Open the current publication (resolving ``current`` once per attempt); caller closes.

    A version can be pruned between resolving ``current`` and opening its file only when
    newer publications replaced it meanwhile; then the newer one is opened instead.
    """
    last: Exception | None = None
    for _ in range(attempts):
        version = current_version(published_dir)
        if version is None:
            raise NothingPublishedError(
                f"nothing is published yet in {published_dir}: run `petpro refresh` "
                "(or `petpro demo`) first"
            )
        try:
            return open_version(version)
        except NothingPublishedError as exc:
            last = exc
            if current_version(published_dir) == version:
                raise
    assert last is not None
    raise last


@contextmanager
def open_current(published_dir: Path) -> Iterator[OpenPublication]:
    """The current publication, open read-only for the ``with`` block (one consistent version)."""
    opened = open_current_publication(published_dir)
    try:
        yield opened
    finally:
        opened.close()


def read_publication(published_dir: Path) -> PublicationRecord | None:
    """The record of the current publication (None when nothing is published yet)."""
    try:
        with open_current(published_dir) as opened:
            return opened.record
    except NothingPublishedError:
        return None
