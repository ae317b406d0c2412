"""Run a job of the code location in this process, with live progress and a summary.

Used by ``petpro refresh``, ``petpro demo`` and the benchmark; a thin client of Dagster's
public API. The job runs with ``JobDefinition.execute_in_process`` on the instance of the
home (:mod:`orchestration.instance`, so the run shows in ``petpro ui``), in the calling
thread, with a Dagster logger whose handler (:mod:`orchestration.progress`) sees every event
as it happens: step starts and ends, materializations, check results and warnings (such as a
wait for the build lock) reach the ``on_event`` callback with no polling. Before a run,
unfinished runs whose process is gone are marked failed (:mod:`orchestration.recovery`); a
SIGTERM during the run interrupts it like Ctrl-C, so Dagster records its end. While it runs,
the instance's SQLite files are held open (:mod:`orchestration.storage_keepalive`), which
makes each of its thousands of event writes cheaper.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from orchestration.instance import instance_for
from orchestration.partitions import full_rebuild_partition, yesterday
from orchestration.progress import ProgressEvent, ProgressHandler, RunSummary
from orchestration.storage_keepalive import storage_held_open
from orchestration.tags import CAUSE_NODE_ERROR
from petpro.errors import PetProError
from petpro.settings import Settings

# The step of the publication (the asset key ``published_warehouse``) in every refresh job.
PUBLISH_STEP = "published_warehouse"


class RefreshError(PetProError):
    """A pipeline run failed; the message is the first reason."""

    def __init__(self, message: str, summary: RunSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


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

    from orchestration.defs.ingestion import INGESTION_WORKER
    from orchestration.recovery import fail_orphaned_runs, process_token
    from orchestration.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PROCESS_TAG
    from petpro import child_worker

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
    progress = ProgressHandler(summary, on_event)
    summary.recovered = fail_orphaned_runs(instance)
    for orphan in summary.recovered:
        progress.notice(f"run {orphan} was left unfinished by a killed process: marked failed")

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
    ).resolve_job_def(job_name)
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
        # Dagster's SQLite storage stores each event through a fresh connection: holding its
        # files open spares every event a checkpoint of the log (storage_keepalive).
        root = getattr(instance, "root_directory", None)
        stack.enter_context(storage_held_open(Path(root) if root else None, run_id))
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            tags=run_tags,
            run_id=run_id,
            raise_on_error=False,
        )
    # Normally the dbt step ended it; a run that stopped before dbt must not leave it behind.
    child_worker.close(INGESTION_WORKER)
    summary.log_file = log_path if quiet else None
    summary.seconds = time.perf_counter() - started
    summary.success = bool(result.success)
    if not summary.success and summary.failure is None:
        summary.failure = "the run failed (see `petpro ui` for its logs)"
    failed_blocking = [c for c in summary.failed_checks if c.severity == "ERROR"]
    if failed_blocking and not summary.success and summary.cause != CAUSE_NODE_ERROR:
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
    intraday: bool = False,
    on_event: Callable[[ProgressEvent], None] | None = None,
    defs: Any = None,
    instance: Any = None,
) -> RunSummary:
    """``nightly_refresh`` for ``day`` (default yesterday; today with ``intraday``) or
    ``full_rebuild``; raises :class:`RefreshError` with one line of why when the run fails."""
    from orchestration.defs.ingestion import INGESTION_WARM, INGESTION_WORKER
    from orchestration.partitions import activity_partitions, today
    from orchestration.tags import EXPORT_AFTER_TAG, GENERATED_KEY_TAG, INTRADAY_TAG
    from petpro import child_worker

    last_key = activity_partitions(settings).get_last_partition_key()
    tags: dict[str, str] = {}
    if allow_generated_key:
        tags[GENERATED_KEY_TAG] = "true"
    if export_after:
        tags[EXPORT_AFTER_TAG] = "true"
    if intraday:
        # Today so far: today's partition exists (end_offset=1) and holds what is in by now.
        tags[INTRADAY_TAG] = "true"
        day = today(settings)
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
    # A refresh ingests what changed in the run's ingestion worker, which also runs the GX
    # suites: starting it here overlaps its imports (GX: 6.5-7 s) with loading the
    # definitions and starting the run (docs/ingestion.md, "The quality worker started
    # ahead"). The dbt step ends it.
    child_worker.start(INGESTION_WORKER, warm=[*INGESTION_WARM, "ingestion.quality_worker:start"])
    summary = run_job(
        settings, job, partition_key=key, tags=tags, on_event=on_event, defs=defs, instance=instance
    )
    if not summary.success:
        raise RefreshError(f"{summary.job} failed: {summary.failure}", summary)
    unpublished = publication_skipped(summary)
    if unpublished:
        raise RefreshError(f"{summary.job} published nothing: {unpublished}", summary)
    return summary


def publication_skipped(summary: RunSummary) -> str | None:
    """Why a run Dagster calls successful still did not publish (None when it published).

    Dagster counts a run whose steps were *skipped* as a success: a step that yields no
    output (an asset with ``output_required=False``, a dbt model dbt itself skipped) skips
    everything downstream, the publication included. A refresh exists to publish, so that is
    a failure for it."""
    step = summary.steps.get(PUBLISH_STEP)
    if step is not None and step.status == "success":
        return None
    skipped = sorted(k for k, s in summary.steps.items() if s.status == "skipped")
    listed = ", ".join(skipped[:4]) + (" …" if len(skipped) > 4 else "")
    state = "was skipped" if step is not None else "never ran"
    why = f" (skipped steps: {listed})" if skipped else ""
    return f"{PUBLISH_STEP} {state}{why}; the previous publication is unchanged"
