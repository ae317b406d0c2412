"""Read-only access to the published warehouse, following publications without a restart.

The API only ever reads ``published/warehouse.duckdb`` (never ``build.duckdb``). Publishing
replaces that file atomically (``os.replace``), so its *identity* (inode, mtime, size)
changes with every publication. :class:`PublicationStore` checks the identity on every
request (one ``stat``), opens a new read-only DuckDB connection when it changed, and keeps
the previous connection open until the last request that started on it has finished: a
request always sees exactly one publication from start to end, and in-flight requests never
fail because of a switch. On Linux the old connection keeps reading the replaced (unlinked)
file through its open descriptor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from petpro.errors import PetProError

log = logging.getLogger(__name__)

ALIAS = "published"


class NothingPublished(PetProError):
    """There is no published warehouse to read yet."""


@dataclass(frozen=True)
class FileIdentity:
    """What changes when ``os.replace`` swaps a new file in."""

    inode: int
    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class Publication:
    """One opened publication: its connection, metadata and in-flight request count."""

    identity: FileIdentity
    conn: duckdb.DuckDBPyConnection
    run_id: str
    published_at: datetime | None
    high_water_mark: datetime | None
    marts: dict[str, int]
    in_flight: int = 0
    fd: int | None = None
    retired: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tag(self) -> str:
        """Short identifier of this publication, used in ETags and audit records."""
        return f"{self.run_id}:{self.identity.inode}:{self.identity.mtime_ns}"

    def close_if_idle(self) -> None:
        with self.lock:
            if self.retired and self.in_flight == 0 and not self.closed:
                self.closed = True
                # Closing a broken handle has nothing left to release.
                with contextlib.suppress(duckdb.Error):
                    self.conn.close()
                if self.fd is not None:
                    os.close(self.fd)


def _open(path: Path) -> Publication:
    """Open the file *as it is now*, pinned by a descriptor, attached to a private in-memory DB.

    DuckDB caches database instances by (resolved) path within a process, so
    ``duckdb.connect(path)`` while the previous publication is still open would hand back the
    old instance. Attaching the file read-only to a fresh in-memory database gives each
    publication its own instance; attaching it through ``/proc/self/fd/<fd>`` pins the exact
    inode whose identity we record (no race between ``stat`` and open). The descriptor stays
    open for the publication's lifetime so its number is not reused meanwhile.
    """
    fd = os.open(path, os.O_RDONLY)
    st = os.fstat(fd)
    identity = FileIdentity(st.st_ino, st.st_mtime_ns, st.st_size)
    proc_path = f"/proc/self/fd/{fd}"
    target = proc_path if os.path.exists(proc_path) else str(path)
    try:
        conn = duckdb.connect(":memory:")
        # The path comes from settings/our own descriptor, never from a request.
        conn.execute(f"attach '{target}' as {ALIAS} (read_only)")
        conn.execute(f"use {ALIAS}")
    except BaseException:
        os.close(fd)
        raise
    try:
        rows = conn.execute(
            "select run_id, published_at, high_water_mark, mart, row_count from _publication"
        ).fetchall()
    except duckdb.Error as exc:
        conn.close()
        os.close(fd)
        raise NothingPublished(
            f"{path} has no readable _publication table ({exc}); publish again with `petpro refresh`"
        ) from exc
    run_ids = sorted({str(r[0]) for r in rows if r[0] is not None})
    published = [r[1] for r in rows if r[1] is not None]
    hwm = [r[2] for r in rows if r[2] is not None]
    return Publication(
        identity=identity,
        conn=conn,
        run_id=run_ids[-1] if run_ids else "unknown",
        published_at=max(published) if published else None,
        high_water_mark=max(hwm) if hwm else None,
        marts={str(r[3]): int(r[4] or 0) for r in rows},
        fd=fd,
    )


class PublicationStore:
    """Hands out cursors on the current publication; switches when the file is replaced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._current: Publication | None = None
        self._lock = threading.Lock()

    def current(self) -> Publication:
        """The newest publication, opening it if the file changed since last time."""
        identity = FileIdentity.of(self.path)
        cur = self._current
        if identity is not None and cur is not None and cur.identity == identity:
            return cur
        with self._lock:
            cur = self._current
            identity = FileIdentity.of(self.path)
            if identity is None:
                # The file vanished (removed by hand): keep serving the last publication.
                if cur is not None:
                    return cur
                raise NothingPublished(
                    f"nothing is published yet at {self.path}; run `petpro refresh` (or `petpro demo`)"
                )
            if cur is not None and cur.identity == identity:
                return cur
            try:
                new = _open(self.path)
            except (duckdb.Error, OSError, NothingPublished) as exc:
                # A file caught between two replaces or still being written by a non-atomic
                # writer: serve the previous publication rather than failing the request.
                if cur is not None:
                    log.warning(
                        "could not open new publication (%s); still serving %s", exc, cur.tag
                    )
                    return cur
                raise NothingPublished(f"cannot open {self.path}: {exc}") from exc
            log.info("serving publication %s (run %s)", new.tag, new.run_id)
            self._current = new
            if cur is not None:
                with cur.lock:
                    cur.retired = True
                cur.close_if_idle()
            return new

    @contextmanager
    def cursor(self) -> Iterator[tuple[Publication, duckdb.DuckDBPyConnection]]:
        """A (publication, cursor) pair valid for one request; the publication stays open meanwhile."""
        while True:
            pub = self.current()
            with pub.lock:
                if not pub.closed:  # closed = retired and drained: take the newer one
                    pub.in_flight += 1
                    break
        try:
            cur = pub.conn.cursor()
            cur.execute(f"use {ALIAS}")  # a cursor starts on the in-memory catalog
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
