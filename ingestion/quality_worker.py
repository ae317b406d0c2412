"""The sampled Great Expectations suites, run in a child process that ends before dbt.

Importing Great Expectations costs a process about 175 MB that it never gives back (measured
on the 320,000-customer home: 218 → 393 MB), and the process that ingests is the one that
then waits on dbt and runs the publication, the refresh's two largest phases. So the suites
run in one child process (``python -m ingestion.quality_worker``): :func:`validate` sends it
the table's contract and sample (pickled over a pipe, a few MB), the child runs
:func:`ingestion.quality.validate` and sends the :class:`~ingestion.quality.QualityResult`
back. The child is started at the first validation, or ahead of it by :func:`start` (so
that GX's import overlaps the extraction), and serves every table after it (GX imported once
per run, as before); :func:`close` ends it — the dbt step calls it, so dbt and
the publication run beside a process without GX — and an ``atexit`` hook ends it with the
process otherwise.

The verdicts are the same as in process: if the child cannot be started or dies
mid-validation (killed, out of memory), the validation runs in this process instead and a
warning says so — more memory, never a missing or different verdict. An exception raised by
the suite itself comes back and is raised here, as it would have been in process.

A run's ingestion itself runs in a worker process that ends before dbt (a ``petpro
refresh``'s, :mod:`petpro.child_worker`): there :func:`validate_here` makes the validation run
in that process, and :func:`start` imports GX in a thread instead of starting a worker, so
the ingestion phase holds two interpreters, not three.

The child's standard output is the reply channel: at start it moves it to a private
descriptor and points file descriptor 1 at standard error, so a library printing to stdout
cannot corrupt a reply (and its output reaches the run's logs, like the child's stderr). It
ignores Ctrl-C, which the parent handles; a call interrupted in the parent discards the
worker, so no late reply is ever read as the answer to the next request.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from datetime import datetime
from typing import IO, Any

import pyarrow as pa

from ingestion import quality
from ingestion.contracts import TableContract
from petpro.child_worker import end_process

log = logging.getLogger(__name__)

_lock = threading.Lock()
_worker: _Worker | None = None
_started = 0  # workers started by this process (diagnostics and tests)
_here = False  # validate in this process: see validate_here
_importing: threading.Thread | None = None  # GX imported ahead in this process (validate_here)


class _WorkerGone(Exception):
    """The child exited (or could not start): fall back to validating in process."""


class _Worker:
    """One child process and its two pipes; requests are serialised by the module lock."""

    def __init__(self) -> None:
        global _started
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion.quality_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        _started += 1

    @property
    def pid(self) -> int:
        return self.proc.pid

    def call(self, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        """("ok", the result) or ("error", the exception the suite raised in the child)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            pickle.dump((args, kwargs), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            return pickle.load(self.proc.stdout)
        except (BrokenPipeError, EOFError, OSError, pickle.UnpicklingError) as exc:
            raise _WorkerGone(f"exited with code {self.proc.poll()}") from exc

    def close(self) -> None:
        end_process(self.proc)


def validate(
    contract: TableContract,
    rows: pa.Table,
    *,
    known_users: pa.Array | None = None,
    sampled_from: int | None = None,
    now: datetime | None = None,
) -> quality.QualityResult:
    """:func:`ingestion.quality.validate` in the worker process (started if need be)."""
    global _worker
    kwargs = {"known_users": known_users, "sampled_from": sampled_from, "now": now}
    if rows.num_rows == 0 or _here:  # nothing to validate, or no worker wanted
        return quality.validate(contract, rows, **kwargs)
    with _lock:
        try:
            if _worker is None:
                _worker = _Worker()
            status, payload = _worker.call(contract, rows, **kwargs)
        except (_WorkerGone, OSError) as exc:  # it died, or could not be started at all
            log.warning(
                "the quality-check worker failed (%s); validating %s in this process",
                exc,
                contract.table,
            )
            _discard()
        except BaseException:
            # Interrupted mid-call (Ctrl-C, a cancelled step): a reply may still be on its way,
            # and the next request would read it as its own. Start afresh next time.
            _discard()
            raise
        else:
            # The suite's own exception: raised here as in process; the worker is fine.
            if status == "error":
                raise payload
            return payload
    return quality.validate(contract, rows, **kwargs)


def start() -> None:
    """Start the worker now if none runs, without waiting for it.

    Its import of Great Expectations (6.5-7.2 s of wall time on this project's 2-core
    machine) then runs while this process does other work — loading the Dagster definitions,
    extracting — instead of after the extraction, when the first sample is ready to validate
    (docs/ingestion.md, "The quality worker started ahead"). Call it only when a validation
    will follow: an idle worker is a process and its CPU for nothing. A worker that cannot
    be started is left to :func:`validate`, which falls back to validating in process."""
    global _worker, _importing
    with _lock:
        if _here:
            # No worker here: import GX now, in a thread, so it overlaps the extraction.
            if _importing is None:
                _importing = threading.Thread(target=quality.warm_up, name="gx-import", daemon=True)
                _importing.start()
            return
        if _worker is None:
            try:
                _worker = _Worker()
            except OSError as exc:
                log.warning("the quality-check worker could not be started ahead (%s)", exc)


def validate_here() -> None:
    """From now on validate in this process; :func:`start` then imports GX here, ahead.

    For a process that is itself a worker ending before dbt (a run's ingestion worker,
    :mod:`petpro.child_worker`): GX's memory leaves with it, and a GX worker beside it would
    add a third interpreter to the ingestion phase (at 320,000 customers that phase's tree
    went from ~880 to ~1,005 MiB with one; docs/orchestration.md, "The ingestion in a child
    process")."""
    global _here
    _here = True


def workers_started() -> int:
    """How many workers this process has started (tests and diagnostics)."""
    return _started


def worker_pid() -> int | None:
    """The running child's process id, or None (tests and diagnostics)."""
    with _lock:
        return _worker.pid if _worker is not None else None


def close() -> None:
    """End the worker (and the memory GX holds in it); the next validation starts another."""
    with _lock:
        _discard()


def _discard() -> None:
    global _worker
    if _worker is not None:
        worker, _worker = _worker, None
        worker.close()


atexit.register(close)


def _serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    while True:
        try:
            args, kwargs = pickle.load(requests)
        except EOFError:  # the parent closed the pipe: done
            return
        try:
            reply: tuple[str, Any] = ("ok", quality.validate(*args, **kwargs))
        except Exception as exc:  # the parent raises it, as an in-process call would have
            try:
                pickle.dumps(exc)
                reply = ("error", exc)
            except Exception:
                reply = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
        pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def main() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and closes the pipe,
    # which ends this loop; a KeyboardInterrupt trace from here would only be noise.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, never into a reply
    sys.stdout = sys.stderr
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    quality.warm_up()
    _serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
