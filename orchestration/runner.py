"""Run a job of the code location in this process, with live progress and a summary.

Used by ``petpro refresh``, ``petpro demo`` and the benchmark; a thin client of Dagster's
public API. The job runs with ``JobDefinition.execute_in_process`` on the instance under
``$PETPRO_HOME/dagster`` (so the run shows in ``petpro ui``), in the calling thread. Progress
comes from a Dagster logger (``@logger``): every event of the run passes through it as it
happens, so step starts and ends, materializations, check results and warnings (such as a
wait for the build lock) reach the ``on_event`` callback with no polling. Before a run,
unfinished runs whose process is gone are marked failed (:mod:`orchestration.recovery`); a
SIGTERM during the run interrupts it like Ctrl-C, so Dagster records its end.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from orchestration.locks import WAITING
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
    recovered: list[str] = field(default_factory=list)

    def step_seconds(self, predicate: Callable[[str], bool]) -> float:
        return sum(s.seconds for k, s in self.steps.items() if predicate(k))

    @property
    def failed_checks(self) -> list[CheckInfo]:
        return [c for c in self.checks if not c.passed]


@dataclass(frozen=True)
class ProgressEvent:
    # step_start | step_success | step_failure | step_skipped | step_retry | check |
    # materialization | warning (logged by a step) | lock_wait (a step waits for the build
    # lock) | notice (from the runner itself, e.g. an orphaned run marked failed)
    kind: str
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


def instance_for(settings: Settings) -> Any:
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(prepare_instance_home(settings)))


def yesterday(settings: Settings) -> date:
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


def error_line(error: Any) -> str:
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
    # "package.module.SomeError: why" -> "SomeError: why"; a Dagster Failure -> "why".
    text = re.sub(r"^(?:\w+\.)+(?=\w+: )", "", text)
    text = text.removeprefix("Failure: ")
    first = text.splitlines()[0] if text else ""
    return first or error.cls_name or "error"


class _Progress(logging.Handler):
    """Turns the records of a run's Dagster logger into the summary and progress events."""

    def __init__(self, summary: RunSummary, on_event: Callable[[ProgressEvent], None] | None):
        super().__init__(logging.DEBUG)
        self.summary = summary
        self.on_event = on_event

    def _emit(self, kind: str, step: str | None, text: str) -> None:
        if self.on_event is not None:
            self.on_event(ProgressEvent(kind, step, text))

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        if event is None:
            if record.levelno >= logging.WARNING:
                text = str(meta.get("orig_message") or record.getMessage())
                self._emit("lock_wait" if text.startswith(WAITING) else "warning", step, text)
            return
        self._event(event, record.created)

    def _event(self, ev: Any, at: float) -> None:
        kind, step, summary = ev.event_type_value, ev.step_key, self.summary
        if kind == "STEP_START" and step:
            summary.steps[step] = StepInfo(step, "running", at)
            self._emit("step_start", step, f"{step} started")
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED") and step:
            info = summary.steps.setdefault(step, StepInfo(step, started=at))
            info.status = {"STEP_SUCCESS": "success", "STEP_FAILURE": "failed"}.get(kind, "skipped")
            info.seconds = max(at - info.started, 0.0)
            if kind == "STEP_FAILURE":
                data = ev.step_failure_data
                reason = None
                if data is not None and data.user_failure_data is not None:
                    reason = data.user_failure_data.description
                reason = reason or error_line(data.error if data else None)
                summary.failure = summary.failure or f"{step}: {reason}"
                self._emit("step_failure", step, f"{step} failed: {reason}")
            else:
                self._emit(f"step_{info.status}", step, f"{step} {info.status}")
        elif kind == "STEP_UP_FOR_RETRY" and step:
            self._emit("step_retry", step, f"{step} up for retry")
        elif kind == "ASSET_MATERIALIZATION":
            mat = ev.step_materialization_data.materialization
            key = mat.asset_key.to_user_string()
            summary.materializations[key] = {
                k: getattr(v, "value", v) for k, v in mat.metadata.items()
            }
            self._emit("materialization", step, key)
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = ev.asset_check_evaluation_data
            summary.checks.append(
                CheckInfo(
                    asset=evaluation.asset_key.to_user_string(),
                    name=evaluation.check_name,
                    passed=bool(evaluation.passed),
                    severity=evaluation.severity.value,
                )
            )
            self._emit("check", step, evaluation.check_name)


@contextlib.contextmanager
def _python_logs_to(stream: Any) -> Iterator[None]:
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


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """A SIGTERM during the run stops it like Ctrl-C (Dagster then records the run's end and
    dagster-dbt stops dbt) instead of killing the process mid-run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from dagster import Definitions, colored_console_logger, logger

    from orchestration.recovery import fail_orphaned_runs, process_token
    from orchestration.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PROCESS_TAG

    if defs is None:
        from orchestration.location import build_definitions

        defs = build_definitions(settings)
    instance = instance or instance_for(settings)
    run_id = str(uuid.uuid4())
    summary = RunSummary(
        run_id=run_id,
        job=job_name,
        success=False,
        seconds=0.0,
        partition=partition_key
        or (f"{partition_range[0]}...{partition_range[1]}" if partition_range else None),
    )
    progress = _Progress(summary, on_event)
    summary.recovered = fail_orphaned_runs(instance)
    for orphan in summary.recovered:
        progress._emit("notice", None, f"run {orphan} was left unfinished by a killed process: "
                       "marked failed")  # fmt: skip

    @logger(description="Progress of `petpro refresh` (steps, checks, warnings).")
    def petpro_progress(_init: Any) -> logging.Logger:
        sink = logging.Logger("petpro.progress", logging.DEBUG)
        sink.addHandler(progress)
        return sink

    job = Definitions.merge(
        defs,
        Definitions(
            loggers={"console": colored_console_logger, "petpro_progress": petpro_progress}
        ),
    ).get_job_def(job_name)
    run_tags = {**(tags or {}), PROCESS_TAG: process_token()}
    if partition_range is not None:
        run_tags[PARTITION_RANGE_START_TAG] = partition_range[0]
        run_tags[PARTITION_RANGE_END_TAG] = partition_range[1]
    run_config = {
        "loggers": {"console": {"config": {"log_level": log_level}}, "petpro_progress": {}}
    }
    log_path = settings.home / "logs" / f"run-{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # dbt's and Dagster's console output go to the run's log file, not over the progress bars.
    with contextlib.ExitStack() as stack:
        if quiet:
            fh = stack.enter_context(log_path.open("a", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(fh))
            stack.enter_context(contextlib.redirect_stderr(fh))
            stack.enter_context(_python_logs_to(fh))
        stack.enter_context(_sigterm_interrupts())
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            tags=run_tags,
            run_id=run_id,
            raise_on_error=False,
        )
    summary.log_file = log_path if quiet else None
    summary.seconds = time.perf_counter() - started
    summary.success = bool(result.success)
    if not summary.success and summary.failure is None:
        summary.failure = "the run failed (see `petpro ui` for its logs)"
    failed_blocking = [c for c in summary.failed_checks if c.severity == "ERROR"]
    if failed_blocking and not summary.success:
        names = ", ".join(f"{c.asset}:{c.name}" for c in failed_blocking[:4])
        more = f" and {len(failed_blocking) - 4} more" if len(failed_blocking) > 4 else ""
        summary.failure = f"blocking checks failed ({names}{more}); nothing was published"
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

    last_key = activity_partitions(settings).get_last_partition_key()
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
        job, key = "full_rebuild", full_rebuild_partition(settings, last_key)
    else:
        day = day or yesterday(settings)
        key = day.isoformat()
        if day < settings.partitions_start or (last_key is not None and key > last_key):
            raise RefreshError(
                f"--date {key} is outside the activity partitions "
                f"({settings.partitions_start} .. {last_key}); set PETPRO_PARTITIONS_START or pick another date"
            )
        job = "nightly_refresh"
    summary = run_job(
        settings, job, partition_key=key, tags=tags, on_event=on_event, defs=defs, instance=instance
    )
    if not summary.success:
        raise RefreshError(f"{summary.job} failed: {summary.failure}", summary)
    return summary
