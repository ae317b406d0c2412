"""Run tags, pool names and retry settings shared by the assets, jobs and the CLI runner.

Kept in one small module so the jobs that set a tag and the assets that read it agree on
the spelling, and so ``dagster.yaml`` (run-queue tag limits, pools) can be checked against
them in tests.
"""

from __future__ import annotations

from collections.abc import Mapping

# "full" re-extracts every table and rebuilds dbt with --full-refresh; anything else is the
# incremental nightly behaviour.
MODE_TAG = "petpro/mode"
MODE_FULL = "full"
MODE_INCREMENTAL = "incremental"

# Every run that writes build.duckdb carries this tag; dagster.yaml limits such runs to one at
# a time (DuckDB allows a single writer process).
WRITER_TAG = "petpro/build_duckdb"
WRITER_VALUE = "writer"

# The process running an in-process run (``host:pid:start time``): lets the next refresh
# tell a run whose process is gone (kill -9) from one still running.
PROCESS_TAG = "petpro/process"

# Metadata key of a step ``Failure`` whose description already says what broke (a dbt model
# that errored, e.g. out of memory): the runner reports it rather than the data tests the
# error took down with it, which would read as bad data.
CAUSE_KEY = "petpro/cause"
CAUSE_NODE_ERROR = "dbt_node_error"

# Demo runs may use the generated PII key stored under $PETPRO_HOME (never in production).
GENERATED_KEY_TAG = "petpro/allow_generated_key"

# Set on a nightly run to ask the run-status sensor for report exports right after it.
EXPORT_AFTER_TAG = "petpro/export_after"
# An intraday micro-batch: nightly_refresh on today's (incomplete) partition.
INTRADAY_TAG = "petpro/intraday"

BACKFILL_TAG = "dagster/backfill"

# Dagster's documented run tags: the partition of a run, and the range of a single run over
# several partitions.
PARTITION_KEY_TAG = "dagster/partition"
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

# The job whose whole purpose is re-extracting a range of activity partitions: it does so
# however it is launched (a UI backfill, the launchpad on one day, or in process with the
# partition-range tags), not only when Dagster's backfill daemon tagged the run.
BACKFILL_JOB = "backfill_activities"


def is_full(tags: Mapping[str, str]) -> bool:
    return tags.get(MODE_TAG) == MODE_FULL


def is_backfill(tags: Mapping[str, str]) -> bool:
    return BACKFILL_TAG in tags


def reextracts_window(job_name: str, tags: Mapping[str, str]) -> bool:
    """True when a partitioned run re-extracts its partition window (instead of following
    the watermark): every run of ``backfill_activities`` and every backfill run of another
    job, except full rebuilds (they re-extract everything anyway)."""
    return not is_full(tags) and (job_name == BACKFILL_JOB or is_backfill(tags))


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}
