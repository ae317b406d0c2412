"""Builds the PetPro code location for one set of settings (no module-level side effects).

:func:`build_definitions` wires the raw ingestion assets, the dbt assets, the publication
and export assets, jobs, schedules and sensors for one :class:`~petpro.settings.Settings`
(tests and the CLI build their own); ``orchestration.definitions`` builds ``defs`` from the
environment. Loading needs no network: the dbt manifest is prepared at build/dev time (see
:mod:`orchestration.manifest`).
"""

from __future__ import annotations

import importlib.util
import json

from dagster import AssetKey, Definitions

from orchestration.dbt_assets import build_dbt_assets, dbt_resource
from orchestration.export_assets import report_exports
from orchestration.insights_assets import metric_alerts
from orchestration.jobs import build_jobs
from orchestration.partitions import activity_partitions
from orchestration.published_assets import build_published_asset, published_fresh
from orchestration.raw_assets import build_raw_assets
from orchestration.schedules import (
    build_export_schedule,
    build_freshness_schedule,
    build_nightly_schedule,
)
from orchestration.sensors import build_export_after_refresh_sensor, run_failure_alert
from petpro.settings import Settings, get_settings


def exports_available() -> bool:
    return importlib.util.find_spec("exports.run") is not None


def mart_keys(manifest: dict, translator) -> list[AssetKey]:
    return sorted(
        (
            translator.get_asset_key(node)
            for node in manifest.get("nodes", {}).values()
            if node.get("resource_type") == "model" and node["name"].startswith("mart_")
        ),
        key=lambda k: k.to_user_string(),
    )


def build_definitions(settings: Settings | None = None) -> Definitions:
    settings = settings or get_settings()
    partitions = activity_partitions(settings)
    raw = build_raw_assets(partitions)
    dbt_defs, project, translator = build_dbt_assets(settings, partitions)
    manifest = json.loads(project.manifest_path.read_text())
    published = build_published_asset(mart_keys(manifest, translator))
    with_exports = exports_available()
    jobs = build_jobs(partitions, with_exports=with_exports)
    assets = [*raw, *dbt_defs, published, metric_alerts]
    schedules = [
        build_nightly_schedule(settings, jobs["nightly_refresh"]),
        build_freshness_schedule(settings, jobs["published_freshness"]),
    ]
    sensors = [run_failure_alert]
    if with_exports:
        assets.append(report_exports)
        schedules.append(build_export_schedule(settings, jobs["export_reports"]))
        sensors.append(
            build_export_after_refresh_sensor(jobs["nightly_refresh"], jobs["export_reports"])
        )
    return Definitions(
        assets=assets,
        asset_checks=[published_fresh],
        jobs=list(jobs.values()),
        schedules=schedules,
        sensors=sensors,
        resources={"dbt": dbt_resource(settings, project)},
    )
