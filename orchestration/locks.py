"""A process-wide lock around every writer of ``build.duckdb``.

DuckDB allows one writer process per database file. Runs launched by the Dagster daemon are
already serialised by the run-queue tag limit and the op pool in ``dagster.yaml``; this file
lock also covers in-process runs (``petpro refresh``, tests, benchmarks) that no queue sees.
The lock is an ``flock`` on ``$PETPRO_HOME/warehouse/.build.lock``: released by the kernel
if the process dies, so a crash never leaves it stuck.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from petpro.settings import Settings


@contextmanager
def build_writer_lock(
    settings: Settings, *, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    path = settings.warehouse_dir / ".build.lock"
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
