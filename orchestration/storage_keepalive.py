"""Hold Dagster's SQLite event files open while a run executes in this process.

Dagster's default storage (SQLite under ``DAGSTER_HOME``) opens a new connection for every
event it stores and closes it at once: 3,176 connections in a nightly of the 4,000-customer
demo dataset (planned, materialization and check events of ~300 assets and ~250 checks, each
written to the run's own file and mirrored into the cross-run index). A connection that is the
last one on a file in write-ahead-log mode checkpoints the log and deletes it when it closes, so
every event paid a checkpoint, a file deletion and the log's re-creation: 11.7 s of that
nightly's 36 s were spent inside those connections, and its first step started 4.5 s after
the run was asked for, writing planned events (docs/orchestration.md, "Dagster's event
writes"). One idle connection held on each file makes every other close an ordinary one.

Only two public formats are relied on: SQLite's file header (bytes 18-19 are 2 for a database
in WAL mode) and the file names of Dagster's default SQLite layout (``history/runs.db``,
``history/runs/index.db``, ``history/runs/<run_id>.db``). A storage laid out otherwise (another
layout, PostgreSQL) has no index file: nothing is held or waited for, and the run proceeds as
before. The held connections open existing files only (``mode=rw``: never create one), read
once so SQLite maps the log's index, and then hold no transaction, so they never block
Dagster's writes or its checkpoints; the last close, after the run, checkpoints the log once.

The run's own file appears during the run (its first event creates it), so a watcher thread
polls for it and takes hold as soon as the file is in WAL mode.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
WAL_VERSION = 2  # header bytes 18 (write version) and 19 (read version) in WAL mode
POLL_SECONDS = 0.01


def storage_files(dagster_home: Path, run_id: str) -> list[Path]:
    """The SQLite files Dagster's default storage writes a run's events to."""
    history = dagster_home / "history"
    return [history / "runs" / "index.db", history / "runs.db", history / "runs" / f"{run_id}.db"]


def in_wal_mode(path: Path) -> bool:
    """True when ``path`` is an SQLite database in write-ahead-log mode (by its header)."""
    try:
        with path.open("rb") as fh:
            header = fh.read(20)
    except OSError:
        return False
    return (
        len(header) == 20
        and header[:16] == SQLITE_HEADER
        and header[18] == WAL_VERSION
        and header[19] == WAL_VERSION
    )


def _open_idle(path: Path) -> sqlite3.Connection | None:
    try:
        con = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, timeout=1.0, check_same_thread=False
        )
    except sqlite3.Error:
        return None
    try:
        # One read maps the WAL index; the statement is finished, so no read transaction stays.
        con.execute("select count(*) from sqlite_master").fetchall()
    except sqlite3.Error:
        con.close()
        return None
    return con


class HeldStorage:
    """The files held so far (``paths``), filled by the watcher until the run ends."""

    def __init__(self, candidates: list[Path]) -> None:
        self._waiting = list(candidates)
        self._connections: list[sqlite3.Connection] = []
        self.paths: list[Path] = []
        self._lock = threading.Lock()

    def take_hold(self) -> bool:
        """Hold every waiting file now in WAL mode; True once nothing is left to wait for."""
        with self._lock:
            for path in list(self._waiting):
                if not in_wal_mode(path):
                    continue
                con = _open_idle(path)
                if con is not None:
                    self._connections.append(con)
                    self.paths.append(path)
                    self._waiting.remove(path)
            return not self._waiting

    def release(self) -> None:
        with self._lock:
            for con in self._connections:
                with suppress(sqlite3.Error):
                    con.close()
            self._connections.clear()


@contextmanager
def storage_held_open(dagster_home: Path | None, run_id: str) -> Iterator[HeldStorage]:
    """Hold the run's SQLite storage files open from now until the block exits."""
    files = storage_files(dagster_home, run_id) if dagster_home else []
    # The index exists from the instance's creation in the default layout: without it this is
    # another storage, and there is nothing to wait for.
    held = HeldStorage(files if files and files[0].exists() else [])
    stop = threading.Event()
    watcher: threading.Thread | None = None
    if not held.take_hold():

        def watch() -> None:
            while not stop.wait(POLL_SECONDS):
                if held.take_hold():
                    return

        watcher = threading.Thread(target=watch, name="petpro-storage-keepalive", daemon=True)
        watcher.start()
    try:
        yield held
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
        held.release()
