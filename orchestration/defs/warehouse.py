"""Warehouse domain: the dbt models as Dagster assets (dagster-dbt), one partitioned set, and
the ``dbt`` resource.

- The translator maps every dbt source onto the raw ingestion asset of the same table
  (``raw/<table>``), so lineage runs PostgreSQL table → lake file → dbt models → published
  marts → report files; a source without a raw asset is a definition error (no orphans).
  Groups follow the dbt folder (``staging``, ``intermediate``, ``marts``).
- Every model is in one asset set, partitioned by business day, so a refresh is one
  ``dbt build`` (:func:`build_dbt_assets`). Incremental models
  (``config.materialized:incremental``) use the run's partition window (``min_date``,
  ``max_date``, widened to the days the ingestion of the same run touched; dbt pads the start
  by ``late_days`` for late events); the other models rebuild whole, whatever the partition.
  The window goes to dbt through the invocation's window file, not ``--vars``
  (:mod:`orchestration.dbt_launcher`): dbt re-parses the whole project whenever its vars
  change, and the window changes every run. Every run gets the same vars (``late_days``,
  ``test_window``); with the window of a nightly or intraday run, the tests of the activity
  log and of the delete+insert facts check only the days the run rebuilt
  (:func:`run_window`); a full rebuild has no window and tests every row.
- Every dbt test is an asset check; error-severity tests are blocking, so a failing test
  stops everything downstream, the publication included. dbt's *unit* tests are not run by
  a refresh (:data:`REFRESH_EXCLUDES`): they check the models' SQL on fixed inputs, not the
  data, so their answer only changes with the code; they run in ``make test`` and in a
  developer's ``petpro dbt build``.
- ``dbt build`` runs under the build-writer lock (:mod:`orchestration.locks`), which dies with
  the process holding it. Every dbt invocation is built in :func:`_run_dbt` (one place), gets
  a target folder of its own under ``$PETPRO_HOME/warehouse/dagster_dbt`` and is started
  through this home's launcher (:mod:`orchestration.dbt_launcher`), which carries the dbt
  environment: nothing is exported into ``os.environ``.
"""

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    DagsterInvalidDefinitionError,
    Definitions,
    Failure,
    PartitionsDefinition,
)
from dagster_dbt import (
    DagsterDbtCliRuntimeError,
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from ingestion import quality_worker
from orchestration.dbt_launcher import WINDOW_FILE, write_launcher
from orchestration.defs.ingestion import INGESTION_WORKER, raw_key, source_tables
from orchestration.locks import WAITING, LockTimeoutError, build_writer_lock
from orchestration.manifest import (
    dagster_dbt_target,
    dbt_run_vars,
    ensure_partial_parse,
    prepare_manifest,
    prune_invocation_dirs,
    target_path,
)
from orchestration.partitions import dbt_window, window_dates
from orchestration.resources import PetProSettings
from orchestration.tags import CAUSE_KEY, CAUSE_NODE_ERROR, is_full
from petpro import child_worker
from petpro.settings import Settings
from warehouse.dbt import node_error, read_results

DBT_GROUPS = ("staging", "intermediate", "marts")

# dbt's advice for unit tests: run them where the code changes (CI, development), not on
# every production build; their inputs are fixed, so a refresh would re-prove the same SQL
# each night (14 nodes, ~3 s of a 320,000-customer nightly's dbt step).
REFRESH_EXCLUDES = ("--exclude-resource-type", "unit_test")


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
        target_path=target_path(settings),
    )
    # Parsed only when the manifest is missing or older than a dbt file (also under
    # `dagster dev`, where an edit of a model re-parses on reload).
    prepare_manifest(settings)
    return project


class PetProDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, without the dbt adapter it opens in Dagster's own process.

    Before starting dbt, ``DbtCliResource.cli`` imports dbt-core and the DuckDB adapter into
    the run's process and loads the profile, only so that ``fetch_row_counts`` and
    ``fetch_column_metadata`` could query the warehouse; PetPro calls neither. Measured on
    the 320,000-customer home: 2.3-2.5 s and +46-49 MiB per invocation, in the process that
    then lives beside dbt through the refresh's most memory-hungry phase. dagster-dbt treats
    a missing adapter as "no metadata fetching" (it is ``None`` under the dbt Fusion engine);
    the hook overridden here is private to dagster-dbt, so
    ``tests/orchestration/test_dbt_launcher.py`` fails if an upgrade opens an adapter again
    (a renamed hook, or a new caller of the adapter).
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource(settings: Settings, project: DbtProject) -> DbtCliResource:
    return PetProDbtCliResource(
        project_dir=project,
        profiles_dir=str(settings.dbt_project_dir),
        dbt_executable=str(write_launcher(settings)),
    )


def _manifest(project: DbtProject) -> dict[str, Any]:
    return json.loads(project.manifest_path.read_text())


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


def _partition_dates(context: AssetExecutionContext) -> tuple[date, date] | None:
    if not (context.has_partition_key or context.has_partition_key_range):
        return None
    window = context.partition_time_window
    return window_dates(window.start, window.end)


def run_window(context: AssetExecutionContext) -> dict[str, str]:
    """The window of the run's dbt invocation.

    A full rebuild has none. A nightly or intraday run has its partition window widened to
    the days its ingestion touched (``min_date``/``max_date``: what the incremental models
    delete and insert again, padded by ``late_days``), leaving out the days that only lost
    erased customers' rows (the models delete erased customers themselves; see
    :func:`orchestration.defs.ingestion.result_metadata`); with the var ``test_window`` the tests
    of models marked ``meta.test_window`` then check those days only
    (``macros/tests/test_window.sql``). A run with no partition has none (the incremental
    models then follow their own high-water mark, and everything is tested). The window goes
    to dbt through the launcher, not ``--vars`` (:func:`orchestration.manifest.dbt_run_vars`)."""
    if is_full(context.run.tags):
        return {}
    partition = _partition_dates(context)
    if partition is None:
        return {}
    first, last = dbt_window(partition, _touched_window(context))
    return {"min_date": first.isoformat(), "max_date": last.isoformat()}


def _parse_cache(base: Path, dbt_vars: Mapping[str, Any]) -> Path:
    """Where the partial parse made with these vars is kept: every run starts from the last
    run's parse (the vars never change, :func:`orchestration.manifest.dbt_run_vars`), and a
    change of ``PETPRO_LATE_DAYS`` keeps its own."""
    digest = hashlib.sha256(json.dumps(dbt_vars, sort_keys=True).encode()).hexdigest()[:16]
    return base / f"partial_parse-{digest}.msgpack"


def parse_seed(cached: Path, fresh: Path) -> Path | None:
    """The parse a dbt step starts from: the newer of the last run's (``cached``) and the
    one :func:`~orchestration.manifest.ensure_partial_parse` writes (``fresh``) when the
    project changed. dbt checks a saved parse itself (files, vars, profile) and re-parses
    what differs, so either is safe; the newer one spares a second full parse. Starting
    from the cache alone, the first step after a change of the profile or of
    ``dbt_project.yml`` parsed the project twice: once in ``ensure_partial_parse``, once
    again in the build (4.6 s each here, whatever the data; docs/orchestration.md, "The
    newest parse")."""
    present = [path for path in (cached, fresh) if path.exists()]
    return max(present, key=lambda path: path.stat().st_mtime_ns, default=None)


def _keep_parse(produced: Path, cached: Path, keep: int = 4) -> None:
    if not produced.exists():
        return
    tmp = cached.with_name(f".{cached.name}.{uuid.uuid4().hex[:8]}.tmp")
    shutil.copy(produced, tmp)
    tmp.replace(cached)
    older = sorted(cached.parent.glob("partial_parse-*.msgpack"), key=lambda p: p.stat().st_mtime)[
        :-keep
    ]
    for path in older:
        path.unlink(missing_ok=True)


def _checks_subsetted(context: AssetExecutionContext) -> bool:
    """True when some check of a selected model is left out: dagster-dbt then selects the
    tests itself and turns indirect selection off, which must not be overridden."""
    selected = set(context.selected_asset_check_keys)
    assets = set(context.selected_asset_keys)
    return any(
        spec.key not in selected and spec.asset_key in assets
        for spec in context.assets_def.node_check_specs_by_output_name.values()
    )


def _run_dbt(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    petpro: PetProSettings,
    args: list[str],
) -> Iterator[Any]:
    """The one place a dbt invocation is built and run (vars, lock, target folder, flags)."""
    settings = petpro.settings()
    # The ingestion steps before this one are done: end their worker (GX and all) so dbt and
    # the publication run beside a process without them; the GX worker of an ingestion that
    # ran in this process (its worker failed) goes too.
    child_worker.close(INGESTION_WORKER)
    quality_worker.close()
    ensure_partial_parse(settings)
    dbt_vars, window = dbt_run_vars(settings), run_window(context)
    if window:
        context.log.info(f"dbt window {window}, vars {dbt_vars}")
    args = [*args, "--vars", json.dumps(dbt_vars)]
    if is_full(context.run.tags):
        args = [*args, "--full-refresh"]
    if not _checks_subsetted(context):
        # Which tests run besides the selected models' own: see the module docstring.
        args = [*args, "--indirect-selection", "eager"]
    base = dagster_dbt_target(settings)
    target = (
        base
        / f"{context.op_execution_context.op.name}-{context.run.run_id[:8]}-{uuid.uuid4().hex[:7]}"
    )
    target.mkdir(parents=True)
    if window:
        (target / WINDOW_FILE).write_text(json.dumps(window))
    # dbt re-parses only what changed since this home's last parse with the same vars.
    cached = _parse_cache(base, dbt_vars)
    seed = parse_seed(cached, base / "partial_parse.msgpack")
    if seed is not None:
        shutil.copy(seed, target / "partial_parse.msgpack")

    def waiting(holder: str) -> None:
        context.log.warning(
            f"{WAITING} held by {holder} (gives up after {settings.lock_timeout_seconds:g} s)"
        )

    try:
        with build_writer_lock(settings, holder=f"run {context.run.run_id}", on_wait=waiting):
            yield from dbt.cli(args, context=context, target_path=target).stream()
    except LockTimeoutError as exc:
        raise Failure(description=str(exc), allow_retries=False) from exc
    except DagsterDbtCliRuntimeError as exc:
        # dagster-dbt's own message is the command line and a pointer to the logs; when a
        # node errored (a model, or a test that could not run), say which one and why.
        reason = node_error(read_results(target / "run_results.json"), settings)
        if reason is None:
            raise
        raise Failure(
            description=reason,
            metadata={CAUSE_KEY: CAUSE_NODE_ERROR},
            allow_retries=False,
        ) from exc
    _keep_parse(target / "partial_parse.msgpack", cached)
    prune_invocation_dirs(settings)


def build_dbt_assets(
    settings: Settings, partitions_def: PartitionsDefinition
) -> tuple[list[AssetsDefinition], DbtProject, PetProDbtTranslator]:
    """Every dbt model in one asset set (``dbt_models``), partitioned by business day, so a
    refresh builds the whole project in one dbt invocation.

    Only the incremental models use the partition (their window, :func:`run_window`); the
    others rebuild whole and the partition merely labels their materialization. One set
    rather than the earlier three (the models the incremental ones read, the incremental
    models, the rest) because Dagster runs each asset set as its own step, and each step
    paid a dbt process start, a manifest load, adapter start-up and event streaming: about
    7 s apiece at 320,000 customers. A backfill over a range is one run
    (``BackfillPolicy.single_run``), so the range is one window. Tests reaching back to a
    model the run did not select still run (``eager``), reading its existing table."""
    project = dbt_project(settings)
    translator = PetProDbtTranslator(source_tables())

    @dbt_assets(
        manifest=_manifest(project),
        project=project,
        name="dbt_models",
        partitions_def=partitions_def,
        backfill_policy=BackfillPolicy.single_run(),
        dagster_dbt_translator=translator,
    )
    def dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, petpro: PetProSettings
    ) -> Iterator[Any]:
        yield from _run_dbt(context, dbt, petpro, ["build", *REFRESH_EXCLUDES])

    return [dbt_models], project, translator


def mart_keys(assets: list[AssetsDefinition]) -> list[AssetKey]:
    """Keys of the dbt marts (``mart_*``): what the publication copies."""
    keys = {key for a in assets for key in a.keys if key.path[-1].startswith("mart_")}
    return sorted(keys, key=lambda k: k.to_user_string())


def definitions(
    settings: Settings, partitions_def: PartitionsDefinition
) -> tuple[Definitions, list[AssetKey]]:
    """The warehouse domain: the dbt assets and the ``dbt`` resource; also the mart keys."""
    assets, project, _ = build_dbt_assets(settings, partitions_def)
    return (
        Definitions(assets=assets, resources={"dbt": dbt_resource(settings, project)}),
        mart_keys(assets),
    )
