"""Builds the PetPro code location for one set of settings (no module-level side effects).

The definitions are grouped by domain, one module each under :mod:`orchestration.defs`, each
returning its own ``Definitions``, merged here with ``Definitions.merge``:

- ``ingestion``: one raw asset per source table, with its quality checks;
- ``warehouse``: the dbt models as assets, and the ``dbt`` resource;
- ``publication``: ``published_warehouse``, its freshness check, job and schedule;
- ``exports``: ``report_exports``, its job, schedule and the export-after-refresh sensor;
- ``pipeline``: the refresh jobs across those domains and the nightly schedule;
- ``insights``: the alerts raised from each publication's new anomalies;
- ``predictions``: the customer models and the service recommender, trained weekly;
- ``monitoring``: the run-failure alert sensor.

Every job runs with :data:`orchestration.executor.petpro_executor` (in process).

The settings are the ``petpro`` resource (:class:`orchestration.resources.PetProSettings`),
bound to the settings given (tests, the CLI) or read from the environment
(``orchestration.definitions``). Loading needs no network: the dbt manifest is prepared at
build/dev time (see :mod:`orchestration.manifest`).
"""

from __future__ import annotations

from dagster import Definitions

from orchestration.defs import (
    exports,
    ingestion,
    insights,
    monitoring,
    pipeline,
    predictions,
    publication,
    warehouse,
)
from orchestration.executor import petpro_executor
from orchestration.partitions import activity_partitions
from orchestration.resources import PetProSettings
from petpro.arrow_memory import use_returning_pool
from petpro.settings import Settings, get_settings


def build_definitions(settings: Settings | None = None) -> Definitions:
    # Every process that loads the code location (a launched run's worker, the daemon, the
    # UI) allocates Arrow memory from a pool that returns it (petpro/arrow_memory.py).
    use_returning_pool()
    settings = settings or get_settings()
    partitions = activity_partitions(settings)
    raw = ingestion.definitions(partitions)
    dbt, marts = warehouse.definitions(settings, partitions)
    published = publication.definitions(settings, marts, [*raw.assets, *dbt.assets])
    refresh = pipeline.definitions(settings, partitions)
    nightly = next(job for job in refresh.jobs if job.name == "nightly_refresh")
    return Definitions.merge(
        raw,
        dbt,
        published,
        exports.definitions(settings, nightly),
        refresh,
        monitoring.definitions(),
        insights.definitions(),
        predictions.definitions(settings),
        # Launched runs (daemon, UI) execute in process with the keepalive (executor.py).
        Definitions(
            resources={"petpro": PetProSettings.from_settings(settings)},
            executor=petpro_executor,
        ),
    )
