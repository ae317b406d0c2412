"""What an in-process run reports: its summary and live progress events.

:class:`ProgressHandler` is a ``logging.Handler`` for a Dagster logger (``@logger``): Dagster
hands every event of a run to its loggers as it happens, so the handler builds the
:class:`RunSummary` (steps and their timings, materializations, check results, the first
failure) and passes :class:`ProgressEvent` objects to a callback, with no polling. Only
public Dagster objects are read (``DagsterEvent`` and its documented properties).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestration.locks import WAITING
from orchestration.tags import CAUSE_KEY


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
    cause: str | None = None  # CAUSE_KEY of the first step failure that set one
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


class ProgressHandler(logging.Handler):
    """Turns the records of a run's Dagster logger into the summary and progress events."""

    def __init__(self, summary: RunSummary, on_event: Callable[[ProgressEvent], None] | None):
        super().__init__(logging.DEBUG)
        self.summary = summary
        self.on_event = on_event

    def notice(self, text: str) -> None:
        self._emit("notice", None, text)

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
                    cause = data.user_failure_data.metadata.get(CAUSE_KEY)
                    if cause is not None and summary.cause is None:
                        summary.cause = str(getattr(cause, "value", cause))
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
                    detail=str(getattr(evaluation.metadata.get("messages"), "value", None) or ""),
                )
            )
            self._emit("check", step, evaluation.check_name)
