"""Runs orphaned by a process that died: found and marked failed before the next run.

An in-process run (``petpro refresh``) killed with ``kill -9`` cannot record its own end: its
Dagster run stays ``STARTED`` forever, which would make the UI, the run-status sensors and the
run queue (one ``petpro/build_duckdb`` writer at a time) believe it still runs. Every run the
runner starts carries the tag ``petpro/process=<host>:<pid>:<process start time>``; before
starting the next one, :func:`fail_orphaned_runs` marks failed each unfinished run of this host
whose process is gone (a reused pid has another start time). The build lock needs no such
care: the kernel released it with the process (:mod:`orchestration.locks`).
"""

from __future__ import annotations

import os
import socket
from typing import Any

import psutil
from dagster import DagsterRunStatus, RunsFilter

from orchestration.tags import PROCESS_TAG

UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def process_token(pid: int | None = None) -> str:
    """``host:pid:start time`` of a process (default: this one)."""
    proc = psutil.Process(pid or os.getpid())
    return f"{socket.gethostname()}:{proc.pid}:{proc.create_time():.2f}"


def process_gone(token: str) -> bool:
    """True when the process ``token`` names has ended (False when alive or on another host)."""
    host, _, rest = token.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        return f"{psutil.Process(int(pid_text)).create_time():.2f}" != started
    except psutil.NoSuchProcess:
        return True


def fail_orphaned_runs(instance: Any) -> list[str]:
    """Mark failed every unfinished run whose process is gone; returns their run ids."""
    orphaned = []
    for record in instance.get_run_records(RunsFilter(statuses=UNFINISHED)):
        run = record.dagster_run
        token = run.tags.get(PROCESS_TAG)
        if token and process_gone(token):
            pid = token.split(":")[1]
            instance.report_run_failed(
                run,
                message=f"the process running it (pid {pid}) is gone (killed?); marked failed "
                "by the next run",
            )
            orphaned.append(run.run_id)
    return orphaned
