"""Read-only access to the published warehouse, following publications without a restart.

The API reads only the current publication (never ``build.duckdb``), through
:mod:`petpro.publication`. Publishing switches the ``published/current`` link to a new,
immutable version directory, so the version the link resolves to identifies a publication.
:class:`PublicationStore` resolves the link on every request (one ``readlink`` and one
``stat``), opens the new version read-only when it changed, and keeps the previous connection
open until the last request that started on it has finished: a request always sees exactly
one publication from start to end, and in-flight requests never fail because of a switch. An
open connection keeps reading its file even after the publisher prunes that version (Linux
keeps an unlinked file while a descriptor is open); it is closed once drained.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from petpro.publication import (
    CURRENT,
    DATABASE_FILE,
    NothingPublishedError,
    PublicationRecord,
    PublishedVersion,
    RecordFields,
    current_version,
    open_version,
)

log = logging.getLogger(__name__)

# One name for the error everywhere; ``NothingPublished`` stays importable for the app.
NothingPublished = NothingPublishedError


@dataclass(frozen=True)
class VersionIdentity:
    """What changes when a new publication is switched in: the version and its file."""

    version: str
    path: str
    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, version: PublishedVersion | None) -> VersionIdentity | None:
        if version is None:
            return None
        try:
            st = os.stat(version.database)
        except FileNotFoundError:
            return None
        return cls(version.name, str(version.path), st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class ServedPublication(RecordFields):
    """One opened publication: its connection, record and in-flight request count."""

    identity: VersionIdentity
    conn: duckdb.DuckDBPyConnection
    record: PublicationRecord
    in_flight: int = 0
    retired: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def marts(self) -> dict[str, int]:
        return self.row_counts

    @property
    def tag(self) -> str:
        """Short identifier of this publication, used in ETags and audit records."""
        return f"{self.run_id}:{self.identity.version}:{self.identity.inode}"

    def close_if_idle(self) -> None:
        with self.lock:
            if self.retired and self.in_flight == 0 and not self.closed:
                self.closed = True
                # Closing a broken handle has nothing left to release.
                with contextlib.suppress(duckdb.Error):
                    self.conn.close()


# The name ``serving.app`` imports.
Publication = ServedPublication


def _published_dir(path: Path) -> Path:
    """The ``published/`` directory, given it or ``Settings.published_db`` (current/warehouse.duckdb)."""
    if path.name == DATABASE_FILE and path.parent.name == CURRENT:
        return path.parent.parent
    return path


class PublicationStore:
    """Hands out cursors on the current publication; switches when ``current`` moves."""

    def __init__(self, path: Path) -> None:
        self.published_dir = _published_dir(Path(path))
        self._current: ServedPublication | None = None
        self._lock = threading.Lock()

    def _resolve(self) -> tuple[PublishedVersion | None, VersionIdentity | None]:
        version = current_version(self.published_dir)
        return version, VersionIdentity.of(version)

    def current(self) -> ServedPublication:
        """The newest publication, opening it if ``current`` moved since last time."""
        _, identity = self._resolve()
        cur = self._current
        if identity is not None and cur is not None and cur.identity == identity:
            return cur
        with self._lock:
            cur = self._current
            version, identity = self._resolve()
            if version is None or identity is None:
                # Removed by hand: keep serving the last publication.
                if cur is not None:
                    return cur
                raise NothingPublishedError(
                    f"nothing is published yet in {self.published_dir}; run `petpro refresh` "
                    "(or `petpro demo`)"
                )
            if cur is not None and cur.identity == identity:
                return cur
            try:
                opened = open_version(version)
            except (duckdb.Error, OSError, NothingPublishedError) as exc:
                # Pruned or unreadable meanwhile: serve the previous publication rather than
                # failing the request; the next request resolves `current` again.
                if cur is not None:
                    log.warning(
                        "could not open new publication (%s); still serving %s", exc, cur.tag
                    )
                    return cur
                if isinstance(exc, NothingPublishedError):
                    raise
                raise NothingPublishedError(f"cannot open {version.database}: {exc}") from exc
            new = ServedPublication(identity=identity, conn=opened.con, record=opened.record)
            log.info("serving publication %s (run %s)", new.tag, new.run_id)
            self._current = new
            if cur is not None:
                with cur.lock:
                    cur.retired = True
                cur.close_if_idle()
            return new

    @contextmanager
    def cursor(self) -> Iterator[tuple[ServedPublication, duckdb.DuckDBPyConnection]]:
        """A (publication, cursor) pair valid for one request; the publication stays open meanwhile."""
        while True:
            pub = self.current()
            with pub.lock:
                if not pub.closed:  # closed = retired and drained: take the newer one
                    pub.in_flight += 1
                    break
        try:
            cur = pub.conn.cursor()
            try:
                yield pub, cur
            finally:
                cur.close()
        finally:
            with pub.lock:
                pub.in_flight -= 1
            pub.close_if_idle()

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                with self._current.lock:
                    self._current.retired = True
                self._current.close_if_idle()
                self._current = None
