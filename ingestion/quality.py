"""Quality result of a table's extraction, and the Great Expectations suite run on a sample.

The row-level error checks (NULL keys, implausible dates and amounts, unknown enum values)
run on every row in Arrow during extraction (``row_checks``) and quarantine what fails; this
module only keeps what needs a view across rows and is fine on a sample: one GX suite per
raw table, run in an ephemeral context (nothing written to disk, no network: importing
``petpro`` turns GX analytics off) on a uniform sample of at most ``SAMPLE_ROWS`` rows of the
run (``Sampler``). *Critical* failures are errors (a duplicated key), *warning* failures are
reported only (activities of users missing from the users snapshot).

``QualityResult`` is the shape the CLI and the Dagster asset checks read: ``success``,
``errors`` (one line each: check, table.column, true row count, examples), ``warnings`` and
``details``.
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contracts import TableContract

# 20,000 rows keep the sampled checks meaningful (a rate of 1 in 10,000 bad rows is seen
# with probability 0.86) while the pandas frame GX needs stays a few MB.
SAMPLE_ROWS = 20_000
_lock = threading.Lock()
_context: Any = None


@dataclass
class QualityResult:
    success: bool = True
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "errors": self.errors,
            "warnings": self.warnings,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> QualityResult:
        errors = list(payload.get("errors") or [])
        return cls(
            success=not errors,
            errors=errors,
            warnings=list(payload.get("warnings") or []),
            details=dict(payload.get("details") or {}),
        )


class Sampler:
    """Keeps a uniform random sample of at most ``limit`` rows of a stream of batches.

    Each row is kept with probability ``rate``; when the kept rows exceed twice the limit,
    half of them are dropped at random and the rate halves (so every row of the stream has
    the same chance). Seeded, hence reproducible.
    """

    def __init__(
        self, limit: int = SAMPLE_ROWS, seed: int = 0, columns: list[str] | None = None
    ) -> None:
        self.columns = columns
        self.limit = limit
        self.rate = 1.0
        self.seen = 0
        self._rng = np.random.default_rng(seed)
        self._batches: list[pa.RecordBatch | pa.Table] = []
        self._kept = 0

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.seen += batch.num_rows
        if self.columns is not None:
            batch = batch.select(self.columns)
        if self.rate < 1.0:
            mask = self._rng.random(batch.num_rows) < self.rate
            batch = batch.filter(pa.array(mask))
        self._batches.append(batch)
        self._kept += batch.num_rows
        while self._kept > 2 * self.limit:
            table = pa.concat_tables(
                [
                    b if isinstance(b, pa.Table) else pa.Table.from_batches([b])
                    for b in self._batches
                ]
            )
            mask = self._rng.random(table.num_rows) < 0.5
            table = table.filter(pa.array(mask))
            self._batches = [table]
            self._kept = table.num_rows
            self.rate /= 2

    def table(self) -> pa.Table:
        """The sample: every row seen when they were at most ``limit``, else ``limit`` rows
        drawn uniformly from the whole stream."""
        if not self._batches:
            return pa.table({name: pa.array([], pa.null()) for name in self.columns or []})
        table = pa.concat_tables(
            [b if isinstance(b, pa.Table) else pa.Table.from_batches([b]) for b in self._batches]
        )
        if table.num_rows > self.limit:
            keep = np.sort(self._rng.choice(table.num_rows, self.limit, replace=False))
            table = table.take(pa.array(keep))
        return table

    @property
    def sampled(self) -> bool:
        return self.rate < 1.0


def import_gx() -> Any:
    """Import Great Expectations without its optional Spark integration.

    GX imports pyspark at import time when it is installed (the ``spark`` dependency group
    installs it for ``PETPRO_ENGINE=spark``, where Spark runs in dbt's own process): seconds
    of JVM-side imports, FutureWarnings on the terminal and pyspark's logging setup, for
    pandas batches that never touch Spark. Hiding pyspark during GX's first import makes
    GX's compatibility layer fall back to "not installed"; a pyspark imported before (a
    test, a notebook) is left alone.
    """
    if "great_expectations" in sys.modules or "pyspark" in sys.modules:
        import great_expectations as gx

        return gx
    sys.modules["pyspark"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import great_expectations as gx
    finally:
        del sys.modules["pyspark"]
    return gx


def _gx_context() -> Any:
    global _context
    if _context is None:
        gx = import_gx()

        # GX logs its ephemeral docs-site directory at INFO; not news for a person.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)

        context = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
        except Exception:  # older/newer GX without the knob: bars only cost a little noise
            pass
        _context = context
    return _context


def quality_columns(contract: TableContract) -> list[str]:
    """The lake columns the sampled suite looks at (the sampler keeps only these)."""
    wanted = {contract.primary_key, "user_id"}
    return [name for name in contract.lake_schema().names if name in wanted]


def warm_up() -> None:
    """Import GX and build the context (seconds of imports, done once per process)."""
    with _lock:
        _gx_context()


def build_suite(contract: TableContract, columns: list[str], now: datetime) -> Any:
    gx = import_gx()

    e = gx.expectations
    exps: list[Any] = [e.ExpectColumnValuesToBeUnique(column=contract.primary_key)]
    if "_user_known" in columns:
        exps.append(
            e.ExpectColumnValuesToBeInSet(
                column="_user_known", value_set=[True], severity="warning"
            )
        )
    return gx.ExpectationSuite(name=f"raw_{contract.table}", expectations=exps)


def validate(
    contract: TableContract,
    rows: pa.Table,
    *,
    known_users: pa.Array | None = None,
    sampled_from: int | None = None,
    now: datetime | None = None,
) -> QualityResult:
    """Run the table's suite on ``rows`` (the rows written in this run, or a sample)."""
    now = now or datetime.now(UTC)
    details: dict[str, Any] = {
        "validated_rows": rows.num_rows,
        "written_rows": sampled_from if sampled_from is not None else rows.num_rows,
        "sampled": sampled_from is not None and sampled_from > rows.num_rows,
    }
    if rows.num_rows == 0:
        return QualityResult(details=details)
    if known_users is not None and "user_id" in rows.column_names:
        known = pc.fill_null(pc.is_in(rows["user_id"], value_set=known_users), False)
        rows = rows.append_column("_user_known", known)
    frame = rows.to_pandas()
    for f in rows.schema:
        if pa.types.is_decimal(f.type):
            frame[f.name] = frame[f.name].astype("float64")
    suite = build_suite(contract, list(frame.columns), now)
    with _lock:  # GX contexts are not thread-safe; validations are short
        context = _gx_context()
        name = f"raw_{contract.table}"
        try:
            source = context.data_sources.get(name)
        except Exception:
            source = context.data_sources.add_pandas(name)
        try:
            asset = source.get_asset("rows")
        except Exception:
            asset = source.add_dataframe_asset("rows")
        try:
            definition = asset.get_batch_definition("all")
        except Exception:
            definition = asset.add_batch_definition_whole_dataframe("all")
        batch = definition.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite)
    result = QualityResult(details=details)
    checks = []
    for item in outcome.results:
        config = item.expectation_config
        column = config.kwargs.get("column")
        severity = str(getattr(config, "severity", "critical")).lower()
        warning = "warning" in severity
        count = item.result.get("unexpected_count") if item.result else None
        examples = (item.result or {}).get("partial_unexpected_list", [])[:5]
        checks.append(
            {
                "expectation": config.type,
                "column": column,
                "severity": "warning" if warning else "critical",
                "success": bool(item.success),
                "unexpected_count": count,
            }
        )
        if item.success:
            continue
        raised = (item.exception_info or {}).get("raised_exception")
        message = (
            f"{contract.table}.{column}: {config.type} failed"
            + (
                f" for {count:,} row(s) of a {rows.num_rows:,}-row sample, "
                f"e.g. {', '.join(str(x) for x in examples)}"
                if count
                else ""
            )
            + (f" ({item.exception_info.get('exception_message')})" if raised else "")
        )
        if warning:
            result.warnings.append(message)
        else:
            result.errors.append(message)
    result.success = not result.errors
    details["checks"] = checks
    return result
