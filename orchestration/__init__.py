"""The Dagster code location of PetPro: the only package that imports Dagster.

``orchestration.definitions`` exposes ``defs``, merged from one module per domain under
``orchestration.defs`` (ingestion, warehouse, publication, exports, pipeline, monitoring):
raw ingestion assets (one per source table), the dbt models as assets, the
``published_warehouse`` (write-audit-publish) and ``report_exports`` assets, their asset
checks, jobs, schedules and sensors, with the settings as the ``petpro`` resource. The
libraries it wires together (``ingestion``, ``warehouse``, ``exports``) never import Dagster;
only Dagster's public API is used here. ``orchestration.runner`` runs a job in process for
``petpro refresh``.
"""

import warnings

# backfill_policy and pools are marked beta in Dagster 1.13; their warnings would only add
# noise to every command and test that loads the code location.
warnings.filterwarnings("ignore", message=r".*is currently in beta.*")
warnings.filterwarnings("ignore", message=r".*is currently in preview.*")
