"""Run a job of the code location in this process, with live progress and a summary.

Used by ``petpro refresh``, ``petpro demo`` and the benchmark: the job runs with
``execute_in_process`` on the Dagster instance under ``$PETPRO_HOME/dagster`` (so the runs
show up in ``petpro ui`` afterwards) in a worker thread, while this thread follows the run's
event log and reports step starts/ends, materializations and check results to a callback.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from petpro.errors import PetProError
from petpro.settings import REPO_ROOT, Settings

DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


class RefreshError(PetProError):
    """A pipeline run failed; the message is the first reason."""

    def __init__(self, message: str, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class StepInfo:
    key: str
    status: str = "running"
    started: float = 0.0
    seconds: float = 0.0


@dataclass
class CheckInfo:
    asset: str
    name: str
    passed: bool
    severity: str
    # The check's "messages" metadata (e.g. which column failed, how many rows, examples).
    detail: str = ""


@dataclass
class RunSummary:
    run_id: str
    job: str
    success: bool
    seconds: float
    partition: str | None
    steps: dict[str, StepInfo] = field(default_factory=dict)
    checks: list[CheckInfo] = field(default_factory=list)
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: str | None = None
    log_file: Path | None = None

    def step_seconds(self, predicate: Callable[[str], bool]) -> float:
        return sum(s.seconds for k, s in self.steps.items() if predicate(k))

    @property
    def failed_checks(self) -> list[CheckInfo]:
        return [c for c in self.checks if not c.passed]


@dataclass(frozen=True)
class ProgressEvent:
    kind: str  # step_start | step_success | step_failure | step_retry | check | materialization
    step: str | None
    text: str


def prepare_instance_home(settings: Settings) -> Path:
    """``$PETPRO_HOME/dagster`` with the repository's dagster.yaml in it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        tmp = home / ".dagster.yaml.tmp"
        shutil.copyfile(DAGSTER_YAML, tmp)
        tmp.replace(target)
    return home


def instance_for(settings: Settings):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(prepare_instance_home(settings)))


def yesterday(settings: Settings) -> date:

    from petpro.settings import Settings as _S  # noqa: F401 - keep import local

    return datetime.now(settings.tz).date() - timedelta(days=1)


def activity_day_range(settings: Settings) -> tuple[date, date] | None:
    """Business days of the oldest and newest activity in the source (None when empty)."""
    from sourcedb.server import connect, source_url

    with connect(source_url(settings)) as conn:
        lo, hi = conn.execute(
            'select min("timestamp"), max("timestamp") from activities'
        ).fetchone()
    if lo is None or hi is None:
        return None
    return lo.astimezone(settings.tz).date(), hi.astimezone(settings.tz).date()


def full_rebuild_partition(settings: Settings, last_key: str | None) -> str:
    """The partition a full rebuild runs under: the newest day holding activities (clipped to
    the partitions). The window is ignored in full mode, so one partition is enough; a range
    over every day would make Dagster record thousands of per-day events (minutes of
    overhead at 1,000 days) for no change in what is built."""
    days = activity_day_range(settings)
    last = date.fromisoformat(last_key) if last_key else yesterday(settings)
    if days is None:
        return last.isoformat()
    return max(min(days[1], last), settings.partitions_start).isoformat()


def _error_line(error: Any) -> str:
    """One readable line from a Dagster ``SerializableErrorInfo`` (following its causes)."""
    if error is None:
        return "unknown error"
    # The step wrapper says only "Error occurred while executing op": the cause says why.
    while error.cause is not None and (
        error.cls_name == "DagsterExecutionStepExecutionError"
        or "Error occurred while executing" in (error.message or "")
    ):
        error = error.cause
    text = (error.message or "").strip()
    if "Errors parsed from dbt logs:" in text:
        # dagster-dbt: keep dbt's own first error line.
        tail = text.split("Errors parsed from dbt logs:", 1)[1]
        for line in tail.splitlines():
            line = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()
            if line and ("ERROR" in line or "FAIL" in line or "Error" in line):
                return f"dbt: {line}"
    for prefix in ("dagster._core.definitions.events.Failure: ", "dagster._core.errors."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    first = text.splitlines()[0] if text else ""
    return first or error.cls_name or "error"


def _follow(
    instance: Any,
    run_id: str,
    summary: RunSummary,
    cursor: str | None,
    on_event: Callable[[ProgressEvent], None] | None,
) -> str | None:
    from dagster import DagsterEventType

    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
        DagsterEventType.STEP_UP_FOR_RETRY,
        DagsterEventType.STEP_SKIPPED,
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_CHECK_EVALUATION,
    }
    while True:
        conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=kinds, limit=500)
        cursor = conn.cursor
        for record in conn.records:
            entry = record.event_log_entry
            ev = entry.dagster_event
            if ev is None:
                continue
            step = ev.step_key
            kind = ev.event_type
            if kind == DagsterEventType.STEP_START and step:
                summary.steps[step] = StepInfo(step, "running", entry.timestamp)
                _emit(on_event, "step_start", step, f"{step} started")
            elif (
                kind
                in (
                    DagsterEventType.STEP_SUCCESS,
                    DagsterEventType.STEP_FAILURE,
                    DagsterEventType.STEP_SKIPPED,
                )
                and step
            ):
                info = summary.steps.setdefault(step, StepInfo(step, started=entry.timestamp))
                info.status = {
                    DagsterEventType.STEP_SUCCESS: "success",
                    DagsterEventType.STEP_FAILURE: "failed",
                    DagsterEventType.STEP_SKIPPED: "skipped",
                }[kind]
                info.seconds = max(entry.timestamp - info.started, 0.0)
                if kind == DagsterEventType.STEP_FAILURE:
                    data = ev.step_failure_data
                    reason = None
                    if data is not None and data.user_failure_data is not None:
                        reason = data.user_failure_data.description
                    reason = reason or _error_line(data.error if data else None)
                    summary.failure = summary.failure or f"{step}: {reason}"
                    _emit(on_event, "step_failure", step, f"{step} failed: {reason}")
                else:
                    _emit(on_event, f"step_{info.status}", step, f"{step} {info.status}")
            elif kind == DagsterEventType.STEP_UP_FOR_RETRY and step:
                _emit(on_event, "step_retry", step, f"{step} up for retry")
            elif kind == DagsterEventType.ASSET_MATERIALIZATION:
                mat = ev.step_materialization_data.materialization
                if mat is not None:
                    key = mat.asset_key.to_user_string()
                    summary.materializations[key] = {
                        k: getattr(v, "value", v) for k, v in mat.metadata.items()
                    }
                    _emit(on_event, "materialization", step, key)
            elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
                evaluation = ev.asset_check_evaluation_data
                summary.checks.append(
                    CheckInfo(
                        asset=evaluation.asset_key.to_user_string(),
                        name=evaluation.check_name,
                        passed=bool(evaluation.passed),
                        severity=evaluation.severity.value,
                        detail=str(
                            getattr(evaluation.metadata.get("messages"), "value", None) or ""
                        ),
                    )
                )
                _emit(on_event, "check", step, f"{evaluation.check_name}")
        if not conn.has_more:
            return cursor


def _emit(
    on_event: Callable[[ProgressEvent], None] | None, kind: str, step: str | None, text: str
) -> None:
    if on_event is not None:
        on_event(ProgressEvent(kind, step, text))


@contextlib.contextmanager
def _python_logs_to(stream: Any) -> Any:
    """For the duration of a run, send the ``dagster`` Python loggers to ``stream`` only, and
    copy every other record that reaches the root logger (Great Expectations, dbt adapters)
    to ``stream`` too.

    ``redirect_stderr`` alone is not enough: a handler made before the run (``petpro``'s
    terminal handler) keeps the real stderr, and Dagster sets its logger to DEBUG.
    """
    logger = logging.getLogger("dagster")
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    previous = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        logger.removeHandler(handler)
        logger.propagate = previous


def run_job(
    settings: Settings,
    job_name: str,
    *,
    partition_key: str | None = None,
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, str] | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    defs: Any = None,
    instance: Any = None,
    quiet: bool = True,
    log_level: str = "WARNING",
) -> RunSummary:
    """Execute ``job_name`` in process; never raises for a failed run (see ``summary.success``)."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )
    from dagster._core.utils import make_new_run_id

    from orchestration.manifest import apply_dbt_env

    if defs is None:
        from orchestration.location import build_definitions

        defs = build_definitions(settings)
    instance = instance or instance_for(settings)
    apply_dbt_env(settings)
    job = defs.resolve_job_def(job_name)
    run_tags = dict(tags or {})
    if partition_range is not None:
        run_tags[ASSET_PARTITION_RANGE_START_TAG] = partition_range[0]
        run_tags[ASSET_PARTITION_RANGE_END_TAG] = partition_range[1]
    run_id = make_new_run_id()
    box: dict[str, Any] = {}

    log_path = settings.home / "logs" / f"run-{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}

    def target() -> None:
        try:
            box["result"] = job.execute_in_process(
                run_config=run_config,
                instance=instance,
                partition_key=partition_key,
                tags=run_tags,
                run_id=run_id,
                raise_on_error=False,
            )
        except BaseException as exc:  # surfaced in the calling thread
            box["error"] = exc

    started = time.perf_counter()
    summary = RunSummary(
        run_id=run_id,
        job=job_name,
        success=False,
        seconds=0.0,
        partition=partition_key
        or (f"{partition_range[0]}...{partition_range[1]}" if partition_range else None),
    )
    worker = threading.Thread(target=target, name=f"dagster-{job_name}", daemon=True)
    cursor: str | None = None
    # dbt's and Dagster's console output go to the run's log file, not over the progress bars.
    with contextlib.ExitStack() as stack:
        if quiet:
            fh = stack.enter_context(log_path.open("a", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
            stack.enter_context(_python_logs_to(fh))
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            # The run's storage may not exist yet in the first instants.
            with contextlib.suppress(Exception):
                cursor = _follow(instance, run_id, summary, cursor, on_event)
    cursor = _follow(instance, run_id, summary, cursor, on_event)
    summary.log_file = log_path if quiet else None
    summary.seconds = time.perf_counter() - started
    if "error" in box:
        summary.failure = summary.failure or f"{type(box['error']).__name__}: {box['error']}"
        return summary
    result = box["result"]
    summary.success = bool(result.success)
    if not summary.success and summary.failure is None:
        summary.failure = "the run failed (see `petpro ui` for its logs)"
    failed_blocking = [c for c in summary.failed_checks if c.severity == "ERROR"]
    if failed_blocking and not summary.success:
        names = ", ".join(f"{c.asset}:{c.name}" for c in failed_blocking[:4])
        more = f" and {len(failed_blocking) - 4} more" if len(failed_blocking) > 4 else ""
        summary.failure = f"blocking checks failed ({names}{more}); nothing was published"
        first = next((c.detail for c in failed_blocking if c.detail), "")
        if first:
            summary.failure += f": {first.split('; ')[0] if len(first) > 400 else first}"
    return summary


def refresh(
    settings: Settings,
    *,
    day: date | None = None,
    full: bool = False,
    allow_generated_key: bool = False,
    export_after: bool = False,
    on_event: Callable[[ProgressEvent], None] | None = None,
    defs: Any = None,
    instance: Any = None,
) -> RunSummary:
    """``nightly_refresh`` for ``day`` (default yesterday) or ``full_rebuild``; raises
    :class:`RefreshError` with one line of why when the run fails."""
    from orchestration.partitions import activity_partitions
    from orchestration.tags import EXPORT_AFTER_TAG, GENERATED_KEY_TAG

    partitions = activity_partitions(settings)
    last_key = partitions.get_last_partition_key()
    tags: dict[str, str] = {}
    if allow_generated_key:
        tags[GENERATED_KEY_TAG] = "true"
    if export_after:
        tags[EXPORT_AFTER_TAG] = "true"
    if full:
        if last_key is None:
            raise RefreshError(
                f"no activity partition exists yet (PETPRO_PARTITIONS_START={settings.partitions_start})"
            )
        summary = run_job(
            settings,
            "full_rebuild",
            partition_key=full_rebuild_partition(settings, last_key),
            tags=tags,
            on_event=on_event,
            defs=defs,
            instance=instance,
        )
    else:
        day = day or yesterday(settings)
        key = day.isoformat()
        if day < settings.partitions_start or (last_key is not None and key > last_key):
            raise RefreshError(
                f"--date {key} is outside the activity partitions "
                f"({settings.partitions_start} .. {last_key}); set PETPRO_PARTITIONS_START or pick another date"
            )
        summary = run_job(
            settings,
            "nightly_refresh",
            partition_key=key,
            tags=tags,
            on_event=on_event,
            defs=defs,
            instance=instance,
        )
    if not summary.success:
        raise RefreshError(f"{summary.job} failed: {summary.failure}", summary)
    return summary
