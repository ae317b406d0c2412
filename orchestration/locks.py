"""The one lock around every writer of ``build.duckdb``, which dies with its holder.

DuckDB allows one writer process per database file. Every step that opens the build database
(the dbt invocations and the publication), in a daemon run or an in-process ``petpro
refresh``, takes an ``flock`` on ``$PETPRO_HOME/warehouse/.build.lock``. The kernel releases
it when the holding process dies, so a run killed with ``kill -9`` never blocks the next one
(a Dagster concurrency pool would keep the dead run's slot). The holder writes who it is into
the file, so a waiter can say what it waits for; a waiter gives up after
``PETPRO_LOCK_TIMEOUT_SECONDS`` with :class:`LockTimeoutError`.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from petpro.errors import PetProError
from petpro.settings import Settings

POLL_SECONDS = 0.25
# How a step's log line about waiting starts (the runner shows such lines on the terminal).
WAITING = "waiting for the build lock"


class LockTimeoutError(PetProError):
    """The build lock stayed held by another run for longer than the lock timeout."""


def lock_path(settings: Settings) -> Path:
    return settings.warehouse_dir / ".build.lock"


@contextmanager
def build_writer_lock(
    settings: Settings,
    *,
    holder: str = "",
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the build lock; ``on_wait(holder)`` is called once when another process holds
    it, and :class:`LockTimeoutError` raised after ``timeout`` seconds (default
    ``settings.lock_timeout_seconds``) of waiting."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = lock_path(settings)
    limit = settings.lock_timeout_seconds if timeout is None else timeout
    with path.open("a+") as fh:
        if not _try_lock(fh):
            other = _holder(fh)
            if on_wait:
                on_wait(other)
            deadline = time.monotonic() + limit
            while not _try_lock(fh):
                if time.monotonic() >= deadline:
                    raise LockTimeoutError(
                        f"gave up after {limit:g} s waiting for the build lock ({path}), held by "
                        f"{_holder(fh) or other}; let that run finish (or stop it) and retry, or "
                        "raise PETPRO_LOCK_TIMEOUT_SECONDS"
                    )
                time.sleep(POLL_SECONDS)
        try:
            fh.seek(0)
            fh.truncate()
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            fh.write(f"pid {os.getpid()}{f' {holder}' if holder else ''} since {stamp}\n")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _try_lock(fh: IO[str]) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fh: IO[str]) -> str:
    fh.seek(0)
    return fh.read().strip() or "another process"
