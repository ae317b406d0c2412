"""Functions run in a child process that dies with its parent: a run's ingestion, off its heap.

A Dagster run of ``petpro refresh`` executes its steps in one process, and the process that
extracted the tables is the one that then waits on dbt, the tree's largest phase: the
extraction's modules (pyarrow's dataset, Parquet and compute layers, psycopg) and its heap
stay beside dbt. At 320,000 customers the refresh process held 360–375 MiB beside dbt, 264
MiB when the same job ran without its ingestion steps (docs/orchestration.md, "The
ingestion in a child process"). So a run's ``raw`` steps call :func:`call`, which runs the
named function (``"module:function"``) in one child process per worker name
(``python -m petpro.child_worker``) and returns its result; the step that follows them (dbt)
calls :func:`close`, and the memory goes with the child.

The child asks Linux to kill it when its parent dies (:mod:`petpro.parent_death`), so a killed run
never leaves it writing the lake. Its log records come back with each reply and are handled
by the parent's loggers, so they reach the run's log as an in-process call's would. An
exception raised by the function comes back and is raised here; one that is transient (the
source unreachable, a connection reset: :func:`petpro.errors.is_transient` in the child) is
raised as :class:`TransientError`, a ``ConnectionError``, so retry policies see it as such.
If the child cannot be started or dies mid-call (killed, out of memory), the call runs in
this process instead and a warning says so: more memory, never a missing result. A call
interrupted here (Ctrl-C, SIGTERM, a cancelled step) kills the child, so no late reply is
read as the answer to the next request. Requests and replies are pickled over the child's
stdin and a private copy of its stdout (its descriptor 1 points at stderr, so a library
printing cannot corrupt a reply).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

from petpro.errors import PetProError, is_transient
from petpro.parent_death import die_with_parent

log = logging.getLogger(__name__)

_lock = threading.Lock()
_workers: dict[str, _Worker] = {}
_warm: dict[str, tuple[str, ...]] = {}  # each name's warm-up, for a worker started again
_started = 0  # workers started by this process (diagnostics and tests)


class TransientError(ConnectionError):
    """A transient error (network, connection) raised by the function in the child."""


class _WorkerGone(Exception):
    """The child exited (or could not start): run the call in this process."""


class _Worker:
    """One child process and its two pipes; calls are serialised by the module lock."""

    def __init__(self, warm: Sequence[str] = ()) -> None:
        global _started
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "petpro.child_worker", str(os.getpid()), *warm],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        # The child inherited this environment; a call made under another one (a test that
        # set variables since) gets a new child.
        self.environ = dict(os.environ)
        _started += 1

    def call(self, target: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
        """("ok", result), ("transient", message) or ("error", the exception raised)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            pickle.dump((target, args, kwargs), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            status, payload, records = pickle.load(self.proc.stdout)
        except (BrokenPipeError, EOFError, OSError, pickle.UnpicklingError) as exc:
            raise _WorkerGone(f"exited with code {self.proc.poll()}") from exc
        for record in records:
            logging.getLogger(record.name).handle(record)
        return status, payload

    def close(self, *, kill: bool = False) -> None:
        end_process(self.proc, kill=kill)


def end_process(proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """End a worker served over its stdin: close its pipes (it reads EOF and exits), give it
    10 s, then kill it; ``kill``: at once, when it may be busy or replying."""
    if kill:
        with contextlib.suppress(OSError):
            proc.kill()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def start(name: str, *, warm: Sequence[str] = ()) -> None:
    """Start worker ``name`` now if none runs, without waiting for it; it first calls each
    ``"module:function"`` of ``warm`` (e.g. importing GX ahead), as does a worker of that name
    started again later (by :func:`call`, after a failure). A worker that
    cannot be started is left to :func:`call`, which then runs in this process."""
    with _lock:
        if name not in _workers:
            # Recorded only with a worker it starts: a later start() while that worker runs
            # (each raw step asks) must not change what its replacement is warmed with.
            _warm[name] = tuple(warm)
            try:
                _workers[name] = _Worker(warm)
            except OSError as exc:
                log.warning("the %s worker could not be started ahead (%s)", name, exc)


def call(name: str, target: str, *args: Any, **kwargs: Any) -> Any:
    """``target(*args, **kwargs)`` in worker ``name`` (started if need be); its result."""
    with _lock:
        try:
            worker = _workers.get(name)
            if worker is not None and worker.environ != os.environ:
                _discard(name)
                worker = None
            if worker is None:
                worker = _workers[name] = _Worker(_warm.get(name, ()))
            status, payload = worker.call(target, args, kwargs)
        except (_WorkerGone, OSError) as exc:
            log.warning("the %s worker failed (%s); running %s in this process", name, exc, target)
            _discard(name, kill=True)
        except BaseException:
            # Interrupted mid-call: a reply may still be on its way, or the child still at
            # work; killing it is the only way to be sure of its state.
            _discard(name, kill=True)
            raise
        else:
            if status == "ok":
                return payload
            if status == "transient":
                raise TransientError(payload)
            raise payload  # the function's own error, as an in-process call raises it
    return _resolve(target)(*args, **kwargs)


def worker_pid(name: str) -> int | None:
    """The running child's process id, or None (tests and diagnostics)."""
    with _lock:
        worker = _workers.get(name)
        return worker.proc.pid if worker is not None else None


def workers_started() -> int:
    """How many workers this process has started (tests and diagnostics)."""
    return _started


def close(name: str | None = None) -> None:
    """End worker ``name`` (every worker by default) and the memory it holds."""
    with _lock:
        for key in [name] if name is not None else list(_workers):
            _discard(key)


def _discard(name: str, *, kill: bool = False) -> None:
    worker = _workers.pop(name, None)
    if worker is not None:
        worker.close(kill=kill)


atexit.register(close)


class _Records(logging.Handler):
    """Keeps the log records of one call, ready to be pickled back to the parent."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Arguments and tracebacks become text: they need not pickle.
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.records.append(record)


def _error_reply(exc: Exception) -> tuple[str, Any]:
    if is_transient(exc):
        return "transient", f"{type(exc).__name__}: {exc}"
    try:
        pickle.loads(pickle.dumps(exc))  # some exceptions do not survive the trip
        return "error", exc
    except Exception:
        if isinstance(exc, PetProError):
            return "error", PetProError(str(exc))
        return "error", RuntimeError(f"{type(exc).__name__}: {exc}")


def _serve(requests: IO[bytes], replies: IO[bytes], records: _Records) -> None:
    while True:
        try:
            target, args, kwargs = pickle.load(requests)
        except EOFError:  # the parent closed the pipe: done
            return
        try:
            reply: tuple[str, Any] = ("ok", _resolve(target)(*args, **kwargs))
        except Exception as exc:
            reply = _error_reply(exc)
        # The records since the last reply: the call's, and the warm-up's with the first.
        pickle.dump((*reply, records.records), replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()
        records.records = []


def main(argv: list[str]) -> None:
    parent, *warm = argv
    if not die_with_parent(int(parent)):
        return
    # Ctrl-C reaches the whole process group: the parent handles it and kills this worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints go to stderr, never into a reply
    sys.stdout = sys.stderr
    records = _Records()
    logging.basicConfig(level=logging.INFO, handlers=[records], force=True)
    for target in warm:
        try:
            _resolve(target)()
        except Exception as exc:  # a warm-up is an optimisation: say so and serve anyway
            logging.getLogger(__name__).warning("warm-up %s failed: %s", target, exc)
    _serve(sys.stdin.buffer, replies, records)


if __name__ == "__main__":
    main(sys.argv[1:])
