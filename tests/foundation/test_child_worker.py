"""petpro.child_worker: calls run in a child process that dies with its parent.

Real processes throughout: the worker is ``python -m petpro.child_worker`` and the functions
it runs live in ``child_targets/`` (put on its ``PYTHONPATH``)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from petpro import child_worker
from petpro.errors import PetProError, is_transient

TARGETS = Path(__file__).parent / "child_targets"
REPO_ROOT = Path(__file__).resolve().parents[2]
T = "petpro_child_targets"


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PYTHONPATH", f"{TARGETS}{os.pathsep}{REPO_ROOT}")
    monkeypatch.syspath_prepend(str(TARGETS))
    yield "test"
    child_worker.close("test")


def test_a_call_runs_in_the_child_and_its_log_records_come_back(
    worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    pid, value = child_worker.call(worker, f"{T}:echo", {"rows": 3})
    assert value == {"rows": 3}
    assert pid != os.getpid() and pid == child_worker.worker_pid(worker)
    assert psutil.Process(pid).ppid() == os.getpid()
    records = [r for r in caplog.records if r.name == "petpro.test_child"]
    assert [r.getMessage() for r in records] == ["echo {'rows': 3} from the child"]
    assert records[0].process == pid
    # The same child serves the next call.
    assert child_worker.call(worker, f"{T}:echo", 2)[0] == pid


def test_errors_come_back_as_raised_and_transient_ones_as_connection_errors(worker: str) -> None:
    with pytest.raises(PetProError, match=r"^the source lacks the table: run petpro source start$"):
        child_worker.call(
            worker, f"{T}:fail_with_message", "the source lacks the table: run petpro source start"
        )
    with pytest.raises(ValueError, match="not a number"):
        child_worker.call(worker, f"{T}:fail_otherwise")
    pid = child_worker.worker_pid(worker)
    with pytest.raises(child_worker.TransientError) as caught:
        child_worker.call(worker, f"{T}:fail_transient")
    assert is_transient(caught.value) and "Connection reset by peer" in str(caught.value)
    assert child_worker.worker_pid(worker) == pid  # its own errors do not cost the worker


def test_a_worker_that_dies_mid_call_is_replaced_by_this_process(
    worker: str, caplog: pytest.LogCaptureFixture
) -> None:
    child_worker.call(worker, f"{T}:echo", 0)
    pid = child_worker.worker_pid(worker)
    assert child_worker.call(worker, f"{T}:exit_unless_in", os.getpid()) == "answered in process"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert child_worker.worker_pid(worker) is None
    assert any("worker failed" in r.getMessage() for r in caplog.records)


def test_a_worker_started_again_is_warmed_as_its_first_start_asked(worker: str) -> None:
    """``petpro refresh`` starts the ingestion worker with a warm-up (GX imported ahead);
    every raw step then calls ``start`` again with less while it runs. A replacement after
    the worker died must still get the first warm-up, the one its start recorded."""
    child_worker.start(worker, warm=[f"{T}:warm"])
    child_worker.start(worker, warm=[])  # a raw step's, while the worker runs
    pid, traces = child_worker.call(worker, f"{T}:warmed")
    assert pid == child_worker.worker_pid(worker) and pid != os.getpid()
    assert traces == ["warmed"]
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=10)
    # The call finds the worker gone and answers in this process (never warmed here) ...
    assert child_worker.call(worker, f"{T}:warmed") == (os.getpid(), [])
    # ... and the next one gets a new worker, warmed as the first start asked.
    again, traces = child_worker.call(worker, f"{T}:warmed")
    assert again not in (pid, os.getpid()) and traces == ["warmed"]


class _Interrupted(BaseException):
    pass


def test_an_interrupted_call_kills_the_child(worker: str) -> None:
    child_worker.call(worker, f"{T}:echo", 0)
    pid = child_worker.worker_pid(worker)

    def interrupt(signum: int, frame: object) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(_Interrupted):
            child_worker.call(worker, f"{T}:sleep", 60)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert child_worker.worker_pid(worker) is None
    assert not psutil.pid_exists(pid)


PARENT = f"""
import sys
sys.path[:0] = [{str(TARGETS)!r}, {str(REPO_ROOT)!r}]
from petpro import child_worker
child_worker.start("test")
print(child_worker.worker_pid("test"), flush=True)
child_worker.call("test", "petpro_child_targets:sleep", 120, sys.argv[1])
"""


def test_the_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A SIGKILLed refresh must not leave its ingestion writing the lake: the child, busy
    in a call (not reading its pipe, so not ended by its closing), is killed with it."""
    env = {**os.environ, "PYTHONPATH": f"{TARGETS}{os.pathsep}{REPO_ROOT}"}
    started = tmp_path / "started"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(started)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.ppid() == parent.pid
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists()
        parent.kill()
        parent.wait(timeout=10)
        child.wait(timeout=10)  # psutil.TimeoutExpired if it outlived its parent
    finally:
        if parent.poll() is None:
            parent.kill()
