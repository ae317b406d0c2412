"""The PetPro code location: ``defs`` for ``dagster dev -m orchestration.definitions``.

Built from the environment (``PETPRO_*``) by :func:`orchestration.location.build_definitions`:
raw ingestion assets, dbt assets, ``published_warehouse`` and ``report_exports``, their
checks, the jobs ``nightly_refresh``, ``full_rebuild``, ``backfill_activities``,
``export_reports`` and ``published_freshness``, their schedules and the sensors.
"""

from orchestration.location import build_definitions

defs = build_definitions()
