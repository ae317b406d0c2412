"""The PetPro code location: ``defs`` for ``dagster dev -m orchestration.definitions``.

Built from the environment (``PETPRO_*``) by :func:`orchestration.location.build_definitions`,
which merges the domains of :mod:`orchestration.defs`: raw ingestion assets, dbt assets,
``published_warehouse`` and ``report_exports``, their checks, the jobs ``nightly_refresh``,
``full_rebuild``, ``backfill_activities``, ``export_reports`` and ``published_freshness``,
their schedules, the sensors, and the ``petpro`` (settings) and ``dbt`` resources. This is
the module ``petpro ui`` (``dagster dev -m orchestration.definitions``) loads.
"""

from orchestration.location import build_definitions

defs = build_definitions()
