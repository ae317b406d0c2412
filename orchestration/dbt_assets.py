"""The dbt models as Dagster assets (dagster-dbt), split into a partitioned and a plain set.

- The translator maps every dbt source onto the raw ingestion asset of the same table
  (``raw/<table>``), so lineage runs PostgreSQL table → lake file → dbt models → published
  marts → report files; a source without a raw asset is a definition error (no orphans).
  Groups follow the dbt folder (``staging``, ``intermediate``, ``marts``).
- Incremental models (``config.materialized:incremental``) are partitioned by business day:
  the run's partition window goes to dbt as ``--vars '{min_date, max_date, late_days}'``
  (widened to the days the ingestion of the same run touched; dbt pads the start by
  ``late_days`` for late events). Everything else is one unpartitioned set. Dagster splits the
  unpartitioned set around the incremental models when both run in one job.
- Every dbt test is an asset check; error-severity tests are blocking, so a failing test
  stops everything downstream, the publication included.
- ``dbt build`` runs under the build-writer lock and the ``petpro_build_duckdb`` pool.
"""

import json
import os
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DagsterInvalidDefinitionError,
    PartitionsDefinition,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.locks import build_writer_lock
from orchestration.manifest import (
    TARGET_PATH,
    apply_dbt_env,
    dbt_executable,
    ensure_partial_parse,
    prepare_manifest,
    prune_invocation_dirs,
)
from orchestration.partitions import dbt_window, window_dates
from orchestration.raw_assets import raw_key, source_tables
from orchestration.tags import BUILD_POOL, is_full
from petpro.settings import Settings, get_settings

INCREMENTAL_SELECT = "config.materialized:incremental"
DBT_GROUPS = ("staging", "intermediate", "marts")


class PetProDbtTranslator(DagsterDbtTranslator):
    """Sources → raw ingestion assets; groups from the model folder."""

    def __init__(self, raw_tables: tuple[str, ...]):
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))
        self.raw_tables = raw_tables

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            table = dbt_resource_props.get("identifier") or dbt_resource_props["name"]
            if table not in self.raw_tables:
                raise DagsterInvalidDefinitionError(
                    f"dbt source {dbt_resource_props['unique_id']} reads table {table!r}, which "
                    f"no raw ingestion asset produces (known: {', '.join(self.raw_tables)})"
                )
            return raw_key(table)
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        fqn = dbt_resource_props.get("fqn") or []
        for part in fqn[1:-1]:
            if part in DBT_GROUPS:
                return part
        return "warehouse"

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        description = (dbt_resource_props.get("description") or "").strip()
        if description:
            return description
        kind = dbt_resource_props.get("config", {}).get("materialized", "")
        return f"dbt {kind} model {dbt_resource_props['name']}".replace("  ", " ")


def dbt_project(settings: Settings) -> DbtProject:
    project = DbtProject(
        project_dir=settings.dbt_project_dir,
        profiles_dir=settings.dbt_project_dir,
        target_path=TARGET_PATH,
    )
    # `dagster dev`: re-parse on load; elsewhere only when the manifest is missing/stale.
    # dagster-dbt's preparer looks for `dbt` on PATH: make it this environment's.
    bin_dir = str(Path(dbt_executable()).parent)
    if Path(dbt_executable()).is_absolute() and bin_dir not in os.environ.get("PATH", "").split(
        os.pathsep
    ):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    apply_dbt_env(settings)
    project.prepare_if_dev()
    prepare_manifest(settings)
    return project


def dbt_resource(settings: Settings, project: DbtProject) -> DbtCliResource:
    return DbtCliResource(
        project_dir=project,
        profiles_dir=str(settings.dbt_project_dir),
        dbt_executable=dbt_executable(),
    )


def _manifest(project: DbtProject) -> dict[str, Any]:
    return json.loads(project.manifest_path.read_text())


def has_incremental_models(manifest: Mapping[str, Any]) -> bool:
    return any(
        node.get("resource_type") == "model"
        and node.get("config", {}).get("materialized") == "incremental"
        for node in manifest.get("nodes", {}).values()
    )


def upstream_of_incremental(manifest: Mapping[str, Any]) -> list[str]:
    """Names of the models the incremental models read, directly or not (not themselves)."""
    nodes = manifest.get("nodes", {})
    incremental = {
        uid
        for uid, node in nodes.items()
        if node.get("resource_type") == "model"
        and node.get("config", {}).get("materialized") == "incremental"
    }
    parent_map = manifest.get("parent_map", {})
    seen: set[str] = set()
    stack = [p for uid in incremental for p in parent_map.get(uid, [])]
    while stack:
        uid = stack.pop()
        if uid in seen:
            continue
        seen.add(uid)
        stack.extend(parent_map.get(uid, []))
    return sorted(
        nodes[uid]["name"]
        for uid in seen - incremental
        if uid in nodes and nodes[uid].get("resource_type") == "model"
    )


def _touched_window(context: AssetExecutionContext) -> tuple[date, date] | None:
    """First/last activity day the raw ingestion touched in this run (None if not in it)."""
    event = context.instance.get_latest_materialization_event(raw_key("activities"))
    if event is None or event.run_id != context.run.run_id:
        return None
    mat = event.asset_materialization
    if mat is None:
        return None
    first, last = mat.metadata.get("touched_first"), mat.metadata.get("touched_last")
    if first is None or last is None:
        return None
    return date.fromisoformat(first.value), date.fromisoformat(last.value)


def incremental_vars(context: AssetExecutionContext, settings: Settings) -> dict[str, Any]:
    window = context.partition_time_window
    first, last = dbt_window(window_dates(window.start, window.end), _touched_window(context))
    return {
        "min_date": first.isoformat(),
        "max_date": last.isoformat(),
        "late_days": settings.late_days,
    }


def _run_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    *,
    indirect_selection: str,
) -> Iterator[Any]:
    run_settings = get_settings()
    apply_dbt_env(run_settings)
    # Which tests run besides the selected models' own: see the module docstring.
    os.environ["DBT_INDIRECT_SELECTION"] = indirect_selection
    ensure_partial_parse(run_settings)
    if is_full(context.run.tags):
        args = [*args, "--full-refresh"]
    with build_writer_lock(run_settings):
        yield from dbt.cli(args, context=context).stream()
    prune_invocation_dirs(run_settings)


def build_dbt_assets(
    settings: Settings, partitions_def: PartitionsDefinition
) -> tuple[list[AssetsDefinition], DbtProject, PetProDbtTranslator]:
    """Three dbt asset sets in build order: the models the incremental ones read
    (``dbt_upstream_models``), the incremental models (partitioned), and everything else
    (``dbt_models``). An explicit split rather than Dagster's automatic cycle split, so each
    dbt invocation's test selection is deterministic: upstream models run only tests whose
    parents are all built (``cautious``), the later sets also tests reaching back to models
    built earlier in the run (``eager``)."""
    project = dbt_project(settings)
    translator = PetProDbtTranslator(source_tables())
    manifest = _manifest(project)
    assets: list[AssetsDefinition] = []
    later_exclude = None

    upstream = upstream_of_incremental(manifest)
    if has_incremental_models(manifest):
        later_exclude = f"+{INCREMENTAL_SELECT}"

        @dbt_assets(
            manifest=manifest,
            project=project,
            # Listed by name: `+incremental --exclude incremental` would keep the tests
            # indirectly selected through the excluded incremental models.
            select=" ".join(upstream),
            name="dbt_upstream_models",
            dagster_dbt_translator=translator,
            pool=BUILD_POOL,
        )
        def dbt_upstream_models(
            context: AssetExecutionContext, dbt: DbtCliResource
        ) -> Iterator[Any]:
            yield from _run_dbt(context, dbt, ["build"], indirect_selection="cautious")

        @dbt_assets(
            manifest=manifest,
            project=project,
            select=INCREMENTAL_SELECT,
            name="dbt_incremental_models",
            partitions_def=partitions_def,
            backfill_policy=BackfillPolicy.single_run(),
            dagster_dbt_translator=translator,
            pool=BUILD_POOL,
        )
        def dbt_incremental_models(
            context: AssetExecutionContext, dbt: DbtCliResource
        ) -> Iterator[Any]:
            run_settings = get_settings()
            if is_full(context.run.tags):
                dbt_vars: dict[str, Any] = {"late_days": run_settings.late_days}
            else:
                dbt_vars = incremental_vars(context, run_settings)
                context.log.info(f"dbt incremental window {dbt_vars}")
            yield from _run_dbt(
                context, dbt, ["build", "--vars", json.dumps(dbt_vars)], indirect_selection="eager"
            )

        assets += [dbt_upstream_models, dbt_incremental_models]

    @dbt_assets(
        manifest=manifest,
        project=project,
        exclude=later_exclude,
        name="dbt_models",
        dagster_dbt_translator=translator,
        pool=BUILD_POOL,
    )
    def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
        yield from _run_dbt(context, dbt, ["build"], indirect_selection="eager")

    assets.append(dbt_models)
    return assets, project, translator
