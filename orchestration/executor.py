"""The executor of every job in the code location: in process, the run's SQLite files held open.

Runs launched by the Dagster daemon or the UI (the nightly schedule, the intraday sensor, a
backfill, the launchpad) execute in Dagster's run worker with the job's executor. Without one
set, Dagster's default is the multiprocess executor: every step in a process of its own that
imports and builds the whole code location again (the dbt manifest included) before it runs,
a fixed cost per step that `petpro refresh` never paid (it runs the job in process). And the
runner's keepalive of Dagster's SQLite event files (:mod:`orchestration.storage_keepalive`)
wraps only the runs it starts, so launched runs paid a checkpoint of the log for every
event. This executor is Dagster's in-process executor (same configuration, same retries)
whose execution holds the run's event files open for as long as its steps run.

What it cannot cover: the "planned" events Dagster writes when the daemon or the UI *creates*
the run, which happens in their process before the run worker starts (``runner.run_job``
covers those for the runs it starts itself).

Only public Dagster API: ``Executor``, ``ExecutorDefinition`` and ``in_process_executor``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import Executor, ExecutorDefinition, InitExecutorContext, in_process_executor

from orchestration.storage_keepalive import storage_held_open

EXECUTOR_NAME = "petpro_in_process"


class HeldStorageExecutor(Executor):
    """Delegates to another executor, with the run's SQLite event files held open."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        root = getattr(plan_context.instance, "root_directory", None)
        with storage_held_open(Path(root) if root else None, plan_context.run_id):
            yield from self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config


def _create(init_context: InitExecutorContext) -> Executor:
    return HeldStorageExecutor(in_process_executor.executor_creation_fn(init_context))


petpro_executor = ExecutorDefinition(
    name=EXECUTOR_NAME,
    config_schema=in_process_executor.config_schema,
    executor_creation_fn=_create,
    description="In process, with the run's SQLite event files held open (orchestration.executor).",
)
