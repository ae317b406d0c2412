"""The sampled GX suites run in a child process: same verdicts, no GX in the ingesting process."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import psutil
import pyarrow as pa
import pytest

from ingestion import quality, quality_worker
from ingestion.contracts import CONTRACTS
from petpro.settings import Settings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A fresh process ingests two tables of a real source, then reports what it holds.
INGEST_PROBE = """
import json, os, sys
import psutil
from ingestion import quality_worker
from ingestion.run import ingest_table
from petpro.settings import get_settings

settings = get_settings(home=sys.argv[1], source_url=sys.argv[2], pii_key="probe-key")
users = ingest_table(settings, "users")
activities = ingest_table(settings, "activities")
pid = quality_worker.worker_pid()
child = psutil.Process(pid) if pid else None
report = {
    "workers_started": quality_worker.workers_started(),
    "gx_here": "great_expectations" in sys.modules,
    "worker_is_child": bool(child) and child.ppid() == os.getpid(),
    "worker_cmdline": child.cmdline() if child else [],
    "users": users.quality.to_dict(),
    "activities_rows": activities.rows,
    "activities": activities.quality.to_dict(),
}
quality_worker.close()
report["worker_gone"] = not psutil.pid_exists(pid) if pid else None
print(json.dumps(report))
"""


def _probe(script: str, *args: str) -> dict:
    """Run ``script`` in a fresh Python process; the JSON report on its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_ingestion_validates_in_a_worker_and_never_imports_gx(
    seeded: Settings, source_url: str
) -> None:
    report = _probe(INGEST_PROBE, str(seeded.home), source_url)
    # The suites ran (GX's expectation names in the details), but not in this process.
    assert report["gx_here"] is False
    assert report["worker_is_child"] is True
    assert "ingestion.quality_worker" in report["worker_cmdline"]
    for table in ("users", "activities"):
        checks = report[table]["details"]["checks"]
        assert {c["expectation"] for c in checks} >= {"expect_column_values_to_be_unique"}
        assert report[table]["success"] is True
    assert report["activities_rows"] > 0
    assert report["worker_gone"] is True
    # Started ahead by the first table with new rows, it served both tables.
    assert report["workers_started"] == 1


def _duplicated_users() -> pa.Table:
    return pa.table({"id": ["u-1", "u-2", "u-2", "u-3"]})


def _started_worker(contract_name: str = "users") -> int:
    """Validate a clean sample through the worker; the pid of the worker that answered."""
    assert quality_worker.validate(CONTRACTS[contract_name], pa.table({"id": ["u-1"]})).success
    pid = quality_worker.worker_pid()
    assert pid is not None
    return pid


def test_worker_verdict_on_a_duplicated_key_is_the_in_process_one() -> None:
    contract = CONTRACTS["users"]
    rows = _duplicated_users()
    try:
        remote = quality_worker.validate(contract, rows, sampled_from=4)
        assert quality_worker.worker_pid() is not None
    finally:
        quality_worker.close()
    assert quality_worker.worker_pid() is None
    # Two of the four rows carry the duplicated key "u-2".
    assert remote.success is False
    (error,) = remote.errors
    assert "users.id" in error and "2 row(s) of a 4-row sample" in error and "u-2" in error
    local = quality.validate(contract, rows, sampled_from=4)
    assert remote.to_dict() == local.to_dict()


def test_a_killed_worker_falls_back_to_validating_here(caplog: pytest.LogCaptureFixture) -> None:
    contract = CONTRACTS["users"]
    try:
        pid = _started_worker()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with caplog.at_level(logging.WARNING, logger="ingestion.quality_worker"):
            verdict = quality_worker.validate(contract, _duplicated_users())
        # The verdict is still given (in process), and the dead worker was let go...
        assert verdict.success is False and "users.id" in verdict.errors[0]
        assert any("quality-check worker" in r.getMessage() for r in caplog.records)
        assert quality_worker.worker_pid() is None
        # ...so the next validation starts a new one.
        assert _started_worker() != pid
    finally:
        quality_worker.close()


def test_the_worker_ignores_ctrl_c_which_the_parent_handles() -> None:
    # Ctrl-C reaches the whole process group; the worker must not die of it (and print a
    # KeyboardInterrupt trace) while the parent decides what to do.
    contract = CONTRACTS["users"]
    try:
        pid = _started_worker()
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        verdict = quality_worker.validate(contract, _duplicated_users())
        assert verdict.success is False
        assert quality_worker.worker_pid() == pid  # the same worker answered
    finally:
        quality_worker.close()


def test_an_exception_of_the_suite_is_raised_here_and_the_worker_kept() -> None:
    contract = CONTRACTS["activities"]
    rows = pa.table({"id": ["a-1"], "user_id": ["u-1"]})
    wrong_ids = pa.array([1, 2])  # integer ids against string user ids: Arrow refuses
    with pytest.raises(pa.ArrowTypeError) as in_process:
        quality.validate(contract, rows, known_users=wrong_ids)
    try:
        pid = _started_worker("activities")
        with pytest.raises(pa.ArrowTypeError) as remote:
            quality_worker.validate(contract, rows, known_users=wrong_ids)
        assert str(remote.value) == str(in_process.value)
        assert quality_worker.worker_pid() == pid  # not a dead worker: kept
    finally:
        quality_worker.close()


def test_a_worker_started_ahead_serves_the_next_validation() -> None:
    started = quality_worker.workers_started()
    try:
        quality_worker.start()
        pid = quality_worker.worker_pid()
        assert pid is not None
        assert "ingestion.quality_worker" in psutil.Process(pid).cmdline()
        quality_worker.start()  # one worker at a time: a second call starts nothing
        assert quality_worker.worker_pid() == pid
        verdict = quality_worker.validate(CONTRACTS["users"], _duplicated_users())
        assert verdict.success is False and "users.id" in verdict.errors[0]
        assert quality_worker.worker_pid() == pid  # the worker started ahead answered
        assert quality_worker.workers_started() == started + 1
    finally:
        quality_worker.close()
    assert quality_worker.worker_pid() is None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


HERE_PROBE = """
import json, sys, time
import pyarrow as pa
from ingestion import quality_worker
from ingestion.contracts import CONTRACTS

quality_worker.validate_here()
quality_worker.start()
deadline = time.monotonic() + 120
while "great_expectations" not in sys.modules and time.monotonic() < deadline:
    time.sleep(0.05)
imported_ahead = "great_expectations" in sys.modules
result = quality_worker.validate(CONTRACTS["users"], pa.table({"id": ["u-1", "u-2", "u-2"]}))
print(json.dumps({
    "imported_ahead": imported_ahead,
    "workers_started": quality_worker.workers_started(),
    "errors": len(result.errors),
    "success": result.success,
}))
"""


def test_validate_here_imports_gx_ahead_and_starts_no_worker() -> None:
    """In a process that is itself a worker (a run's ingestion worker): ``start`` imports GX
    in a thread instead of starting a GX worker, and the verdict is the in-process one."""
    report = _probe(HERE_PROBE)
    expected = quality.validate(CONTRACTS["users"], pa.table({"id": ["u-1", "u-2", "u-2"]}))
    assert report == {
        "imported_ahead": True,
        "workers_started": 0,
        "errors": len(expected.errors),
        "success": expected.success,
    }
    assert expected.success is False and len(expected.errors) > 0
