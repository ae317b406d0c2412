"""The Dagster code location of PetPro: the only package that imports Dagster.

``orchestration.definitions`` exposes ``defs``: raw ingestion assets (one per source table),
the dbt models as assets, the ``published_warehouse`` (write-audit-publish) and
``report_exports`` assets, their asset checks, jobs, schedules and sensors. The libraries it
wires together (``ingestion``, ``warehouse``, ``exports``) never import Dagster.
"""

import warnings

# backfill_policy and pools are marked beta in Dagster 1.13; their warnings would only add
# noise to every command and test that loads the code location.
warnings.filterwarnings("ignore", message=r".*is currently in beta.*")
warnings.filterwarnings("ignore", message=r".*is currently in preview.*")
