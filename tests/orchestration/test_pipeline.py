"""End to end through Dagster: real PostgreSQL, ingestion, dbt and in-process runs.

One module-scoped pipeline: a nightly run on the seeded history, ``simulate_day``, a nightly
run on the next partition. Its publication must equal a from-scratch full rebuild of the same
source in another home (every mart, row for row); a failing error-severity dbt test must
stop publication and leave the published files byte-identical; and a reader polling the
published database and Parquet files while publications happen must never see an error or
a mix of versions. ``backfill_activities`` over a range of days must re-extract exactly those
activity partitions (a change the watermark cannot see shows up inside the range only), and
the ``export_after_refresh`` sensor must ask for ``export_reports`` after a successful nightly
run only when enabled (setting or run tag), never after a failed one or another job.

The tests run in file order on the shared pipeline: the backfill publishes (so it comes after
the atomicity test, which expects the nightly run's publication) and must come before the
failing-check test (which leaves a failed blocking check as the latest evaluation).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psutil
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import AssetKey, DagsterEventType

from ingestion import quality_worker
from orchestration.defs.ingestion import INGESTION_WORKER
from orchestration.location import build_definitions
from orchestration.runner import RunSummary, instance_for, refresh
from petpro import child_worker
from petpro.settings import Settings
from petpro.vocabulary import CUSTOMER_LEVEL_MARTS

from .conftest import SeededSource, home_settings

pytestmark = pytest.mark.slow


@dataclass
class Pipeline:
    settings: Settings
    defs: Any
    first: RunSummary
    second: RunSummary
    source: SeededSource
    # The export_after_refresh sensor's cursor just before the second run ended.
    sensor_cursor: str
    # The second run's GX worker: the one running when its first step started, and how
    # many workers the run started.
    after_raw_steps: list[tuple[int | None, list[str]]]
    workers_started: int


@pytest.fixture(scope="module")
def pipeline(
    seeded_source: SeededSource,
    tmp_path_factory: pytest.TempPathFactory,
    module_monkeypatch: pytest.MonkeyPatch,
) -> Pipeline:
    from sourcedb.simulate import simulate_day

    home = tmp_path_factory.mktemp("orch_pipeline") / "incremental"
    settings = home_settings(module_monkeypatch, home, seeded_source.url)
    defs = build_definitions(settings)
    first = refresh(settings, day=seeded_source.end, defs=defs)
    cursor = initial_sensor_cursor(defs, instance_for(settings))
    # One customer erased: their days leave the lake, yet the window stays on the new day.
    simulate_day(
        seeded_source.url, seeded_source.end + timedelta(days=1), timezone="UTC", erasures=1
    )
    # At every raw step's end: the ingestion worker, and the command lines of its children.
    after_raw_steps: list[tuple[int | None, list[str]]] = []

    def on_event(event: Any) -> None:
        if event.kind == "step_success" and (event.step or "").startswith("raw__"):
            pid = child_worker.worker_pid(INGESTION_WORKER)
            kids = psutil.Process(pid).children() if pid else []
            after_raw_steps.append((pid, [" ".join(k.cmdline()) for k in kids]))

    started = child_worker.workers_started()
    second = refresh(
        settings, day=seeded_source.end + timedelta(days=1), defs=defs, on_event=on_event
    )
    return Pipeline(
        settings,
        defs,
        first,
        second,
        seeded_source,
        cursor,
        after_raw_steps,
        child_worker.workers_started() - started,
    )


def initial_sensor_cursor(defs: Any, instance: Any) -> str:
    """The cursor ``export_after_refresh`` starts from when it is first turned on: just after
    the newest run-status change so far (a run-status sensor never reacts to history)."""
    from dagster import build_sensor_context

    from orchestration.resources import PetProSettings

    sensor = defs.get_sensor_def("export_after_refresh")
    context = build_sensor_context(instance=instance, resources={"petpro": PetProSettings()})
    cursor = sensor.evaluate_tick(context).cursor
    assert cursor
    return cursor


def _published_marts(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_name like 'mart_%' "
                "order by 1"
            ).fetchall()
        ]


def test_incremental_publication_equals_full_rebuild(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inc = pipeline.settings
    assert pipeline.first.success and pipeline.second.success
    # The second run re-ran dbt on a window reaching the simulated day.
    assert pipeline.second.steps["dbt_models"].status == "success"

    full = home_settings(monkeypatch, tmp_path / "full", pipeline.source.url)
    summary = refresh(full, full=True)
    assert summary.success
    # The ingestion steps ran in the ingestion worker (GX in its own worker); the dbt step
    # ended both, and no GX worker ever ran beside this process's run.
    assert summary.steps["raw__users"].status == "success"
    assert child_worker.worker_pid(INGESTION_WORKER) is None
    assert quality_worker.worker_pid() is None

    marts = _published_marts(inc.published_db)
    assert marts == _published_marts(full.published_db)
    assert "mart_customer_activity_daily" in marts and "mart_active_users" in marts
    with duckdb.connect() as con:
        con.execute(f"attach '{inc.published_db}' as inc (read_only)")
        con.execute(f"attach '{full.published_db}' as ful (read_only)")
        for mart in marts:
            for a, b in (("inc", "ful"), ("ful", "inc")):
                diff = con.execute(
                    f"select count(*) from (select * from {a}.{mart} except all "
                    f"select * from {b}.{mart})"
                ).fetchone()[0]
                assert diff == 0, f"{mart}: {diff} rows of {a} not in {b}"
        # The published high-water mark is the newest activity in PostgreSQL (oracle: SQL
        # on the source), and the Parquet marts hold the same rows as the database; the
        # per-customer marts are in the database only.
        hwm = con.execute("select distinct high_water_mark from inc._publication").fetchall()
        rows = dict(con.execute("select mart, row_count from inc._publication").fetchall())
        assert "mart_customer_activity_log" in rows and "mart_service_recommendations" in rows
        for mart in marts:
            parquet = inc.published_marts_dir / f"{mart}.parquet"
            if mart in CUSTOMER_LEVEL_MARTS:
                assert not parquet.exists(), mart
                continue
            assert pq.read_metadata(parquet).num_rows == rows[mart]
            same = con.execute(
                f"select count(*) from (select * from inc.{mart} except all "
                f"select * from read_parquet('{parquet}'))"
            ).fetchone()[0]
            assert same == 0, mart
    with psycopg.connect(pipeline.source.url) as pg:
        newest = pg.execute('select max("timestamp") from activities').fetchone()[0]
    assert len(hwm) == 1 and hwm[0][0] == newest


def test_the_ingestion_worker_is_started_before_the_run_and_serves_every_table(
    pipeline: Pipeline,
) -> None:
    """``refresh`` starts the ingestion worker before the run (its imports overlap the
    definitions' loading); that one worker extracts every table (no worker started by a
    step) and runs the GX suites itself (no GX worker beside it, none in this process), and
    the dbt step ends it: the refresh process never holds the extraction beside dbt
    (docs/orchestration.md, "The ingestion in a child process")."""
    pids = {pid for pid, _ in pipeline.after_raw_steps}
    assert len(pipeline.after_raw_steps) == 9 and len(pids) == 1 and None not in pids
    (pid,) = pids
    assert [kids for _, kids in pipeline.after_raw_steps] == [[]] * 9
    assert pipeline.workers_started == 1
    assert pipeline.second.steps["raw__activities"].status == "success"
    assert child_worker.worker_pid(INGESTION_WORKER) is None
    assert not psutil.pid_exists(pid)
    assert quality_worker.worker_pid() is None


def test_nightly_dbt_is_one_invocation_with_the_window_and_a_saved_parse(
    pipeline: Pipeline,
) -> None:
    """A nightly run builds every dbt model in one step (one dbt process), with the run's
    window and the vars with the test window (so the activity log's tests read the rebuilt
    days only); and the window moving from one night to the next does not make dbt re-parse:
    the second night starts from a saved parse."""
    base = pipeline.settings.warehouse_dir / "dagster_dbt"
    for run in (pipeline.first, pipeline.second):
        assert sorted(k for k in run.steps if k.startswith("dbt")) == ["dbt_models"]

    def step_dir(run: RunSummary) -> Path:
        (found,) = base.glob(f"dbt_models-{run.run_id[:8]}-*")
        return found

    second = step_dir(pipeline.second)
    results = json.loads((second / "run_results.json").read_text())
    dbt_vars, window = results["args"]["vars"], json.loads((second / "run_window.json").read_text())
    # The one invocation built the staging views, the incremental facts and the marts.
    built = {r["unique_id"].split(".")[-1] for r in results["results"]}
    assert {"stg_petpro__users", "int_customer_daily_activity", "mart_active_users"} <= built
    # ... with the data tests, but not dbt's unit tests (fixed inputs: they run in the suite).
    kinds = {r["unique_id"].split(".")[0] for r in results["results"]}
    assert "test" in kinds and "unit_test" not in kinds
    day = (pipeline.source.end + timedelta(days=1)).isoformat()
    assert dbt_vars["test_window"] is True and "min_date" not in dbt_vars
    assert window["max_date"] >= day >= window["min_date"]
    # The erased customer's earlier days were rewritten in the lake but are not in the window
    # (they would stretch it back to the customer's first activity).
    latest = instance_for(pipeline.settings).get_latest_materialization_event(
        AssetKey(["raw", "activities"])
    )
    assert latest is not None and latest.run_id == pipeline.second.run_id
    meta = latest.asset_materialization.metadata
    assert meta["erased_days"].value > 0
    assert meta["erased_first"].value < window["min_date"]
    # ... and their rows came from the lake (rewritten without the customer), not the source:
    # some of the rows the lake holds, not all of them.
    held = sum(
        pq.read_metadata(path).num_rows
        for path in (pipeline.settings.raw_dir / "activities").glob("event_date=*/data.parquet")
    )
    assert 0 < meta["rows_from_lake"].value < held
    compiled = next(second.rglob("unique_stg_petpro__activities_activity_id.sql"))
    assert f"activity_date >= (date '{window['min_date']}' - " in compiled.read_text()
    # The first night's window differs, yet the second night starts from its parse: dbt
    # logs "Partial parsing enabled" when it starts from a saved parse, "Unable to do partial
    # parsing" when it re-parses everything.
    first = step_dir(pipeline.first)
    assert json.loads((first / "run_window.json").read_text()) != window
    assert json.loads((first / "run_results.json").read_text())["args"]["vars"] == dbt_vars
    log = (second / "dbt.log").read_text()
    assert "Unable to do partial parsing" not in log
    assert "Partial parsing enabled" in log


READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb, pyarrow.parquet as pq
    published, seconds = sys.argv[1], float(sys.argv[2])
    per_customer = set(sys.argv[3].split(","))  # published in the DuckDB file only
    errors, db_runs, pq_runs, loops = [], set(), set(), 0
    end = time.time() + seconds
    while time.time() < end:
        loops += 1
        try:
            # Resolve `current` once; read the DuckDB file, the Parquet files and the record
            # of that one version.
            folder = os.path.join(published, os.readlink(os.path.join(published, "current")))
            record = json.load(open(os.path.join(folder, "publication.json")))
            with duckdb.connect(os.path.join(folder, "warehouse.duckdb"), read_only=True) as con:
                rows = con.execute("select run_id, mart, row_count from _publication").fetchall()
                runs = {r[0] for r in rows}
                if runs != {record["run_id"]}:
                    errors.append(f"_publication {runs} vs record {record['run_id']}")
                for run, mart, count in rows:
                    got = con.execute(f'select count(*) from "{mart}"').fetchone()[0]
                    if got != count:
                        errors.append(f"db {mart}: {got} rows, _publication says {count}")
                db_runs |= runs
            for mart, count in record["marts"].items():
                if mart in per_customer:
                    continue
                meta = pq.read_metadata(os.path.join(folder, "marts", mart + ".parquet"))
                run = meta.metadata[b"petpro.run_id"].decode()
                if run != record["run_id"] or meta.num_rows != count:
                    errors.append(f"parquet {mart}: run {run} rows {meta.num_rows} vs {record}")
            pq_runs.add(record["run_id"])
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"errors": errors[:20], "db": sorted(db_runs), "pq": sorted(pq_runs), "loops": loops}))
    """
)


def test_publication_is_atomic_for_readers(pipeline: Pipeline, tmp_path: Path) -> None:
    from warehouse.publish import publish

    settings = pipeline.settings
    script = tmp_path / "reader.py"
    script.write_text(READER)
    reader = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(settings.published_dir),
            "12",
            ",".join(sorted(CUSTOMER_LEVEL_MARTS)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = []
    import time

    time.sleep(1.5)
    for i in range(5):
        runs.append(publish(settings, run_id=f"atomic-{i}-{os.getpid()}").run_id)
        time.sleep(0.4)
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen = json.loads(out)
    assert seen["errors"] == []
    # The reader really raced the publications: it saw several versions in both forms.
    assert len(seen["db"]) >= 2 and len(seen["pq"]) >= 2, seen
    assert set(seen["db"]) <= {pipeline.second.run_id, *runs}
    # Old versions are pruned, the current one kept.
    versions = [p for p in (settings.published_dir / "versions").iterdir() if p.is_dir()]
    assert 1 <= len(versions) <= 4
    assert Path(os.path.realpath(settings.published_dir / "current")) in versions


def _partition_file(settings: Settings, day: date) -> Path:
    return settings.raw_dir / "activities" / f"event_date={day.isoformat()}" / "data.parquet"


def _lake_descriptions(settings: Settings, day: date) -> dict[str, str | None]:
    table = pq.read_table(_partition_file(settings, day), columns=["id", "description"])
    return dict(zip(table["id"].to_pylist(), table["description"].to_pylist(), strict=True))


def _source_descriptions(url: str, day: date) -> dict[str, str | None]:
    # Oracle: the source rows whose event day (PETPRO_TIMEZONE=UTC here) is ``day``.
    with psycopg.connect(url) as pg:
        rows = pg.execute(
            "select id::text, description from activities "
            "where (\"timestamp\" at time zone 'UTC')::date = %s",
            (day,),
        ).fetchall()
    return dict(rows)


def _file_identity(path: Path) -> tuple[int, int, bytes]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns, path.read_bytes()


def test_backfill_activities_reextracts_exactly_the_range(pipeline: Pipeline) -> None:
    from orchestration.runner import instance_for
    from orchestration.tags import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG

    settings, url = pipeline.settings, pipeline.source.url
    end = pipeline.source.end
    first, last = end - timedelta(days=9), end - timedelta(days=7)
    # Both edges of the range, and the days just outside it.
    inside = (first, last)
    outside = (first - timedelta(days=1), last + timedelta(days=1))
    partitions = sorted((settings.raw_dir / "activities").glob("event_date=*/data.parquet"))
    before = {path: _file_identity(path) for path in partitions}
    for day in (*inside, *outside):
        assert _partition_file(settings, day) in before, day

    # Change rows of those days behind the watermark's back (updated_at kept, as a manual fix
    # or a restore would): only an explicit re-extraction can see it.
    with psycopg.connect(url) as pg:
        watermark = pg.execute("select max(updated_at) from activities").fetchone()[0]
        pg.execute("set local petpro.keep_updated_at = on")
        changed = pg.execute(
            "update activities set description = 'backfilled ' || left(id::text, 8) "
            "where (\"timestamp\" at time zone 'UTC')::date = any(%s)",
            ([*inside, *outside],),
        ).rowcount
        assert pg.execute("select max(updated_at) from activities").fetchone()[0] == watermark
    assert changed > 0
    for day in (*inside, *outside):
        lake, source = _lake_descriptions(settings, day), _source_descriptions(url, day)
        assert lake and all(lake[i] != source[i] for i in lake), day  # the lake is stale

    job = pipeline.defs.resolve_job_def("backfill_activities")
    result = job.execute_in_process(
        instance=instance_for(settings),
        tags={
            PARTITION_RANGE_START_TAG: first.isoformat(),
            PARTITION_RANGE_END_TAG: last.isoformat(),
        },
        raise_on_error=False,
    )
    assert result.success
    materialized: dict[str, set[str | None]] = {}
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.step_materialization_data.materialization
            materialized.setdefault(mat.asset_key.to_user_string(), set()).add(mat.partition)
    days = {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}
    assert materialized["raw/activities"] == days
    # Only activities and what is downstream of them: no snapshot table, no export.
    assert not [k for k in materialized if k.startswith("raw/") and k != "raw/activities"]
    assert "report_exports" not in materialized and "published_warehouse" in materialized

    # Inside the range the lake equals the source again; outside it is untouched (stale).
    for day in inside:
        lake, source = _lake_descriptions(settings, day), _source_descriptions(url, day)
        assert lake == {i: source[i] for i in lake}, day
        assert all(d.startswith("backfilled ") for d in lake.values()), day
        assert (
            _partition_file(settings, day).stat().st_ino
            != before[_partition_file(settings, day)][0]
        ), day
    for day in outside:
        lake, source = _lake_descriptions(settings, day), _source_descriptions(url, day)
        assert all(lake[i] != source[i] for i in lake), day
    for path, identity in before.items():
        day = date.fromisoformat(path.parent.name.removeprefix("event_date="))
        if not first <= day <= last:
            assert _file_identity(path) == identity, f"{day} outside the range was rewritten"
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        runs = con.execute("select distinct run_id from _publication").fetchall()
    assert runs == [(result.run_id,)]


def _snapshot(published: Path) -> dict[str, bytes]:
    files = {"current ->": os.readlink(published / "current").encode()}
    folder = Path(os.path.realpath(published / "current"))
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[str(path.relative_to(folder))] = path.read_bytes()
    return files


def test_failing_blocking_check_stops_publication(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    before = _snapshot(settings.published_dir)
    users = settings.raw_dir / "users" / "data.parquet"
    original = users.read_bytes()
    table = pq.read_table(users)
    # Inject duplicate user ids into the lake (what a broken merge would produce).
    pq.write_table(pa.concat_tables([table, table.slice(0, 3)]), users)
    try:
        job = pipeline.defs.resolve_job_def("nightly_refresh")
        graph = pipeline.defs.resolve_asset_graph()
        selection = [
            k
            for k in graph.get_all_asset_keys()
            if k.path[0] != "raw" and k.to_user_string() != "report_exports"
        ]
        from orchestration.runner import instance_for

        result = job.execute_in_process(
            instance=instance_for(settings),
            partition_key=(pipeline.source.end + timedelta(days=1)).isoformat(),
            asset_selection=selection,
            raise_on_error=False,
        )
        assert not result.success
        failed = [
            e.asset_check_evaluation_data.check_name
            for e in result.all_events
            if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
            and not e.asset_check_evaluation_data.passed
        ]
        assert any(name.startswith("unique_stg_petpro__users") for name in failed), failed
        materialized = {
            e.step_materialization_data.materialization.asset_key.to_user_string()
            for e in result.all_events
            if e.is_step_materialization
        }
        assert "published_warehouse" not in materialized
        assert _snapshot(settings.published_dir) == before

        # The asset's own gate: materialized alone (by hand, after that failed run), it finds
        # the failed check as the latest evaluation and refuses.
        alone = job.execute_in_process(
            instance=instance_for(settings),
            partition_key=(pipeline.source.end + timedelta(days=1)).isoformat(),
            asset_selection=[AssetKey("published_warehouse")],
            raise_on_error=False,
        )
        assert not alone.success
        refusals = [
            e.step_failure_data.user_failure_data.description
            for e in alone.get_step_failure_events()
            if e.step_failure_data.user_failure_data is not None
        ]
        assert len(refusals) == 1, refusals
        assert refusals[0].startswith("not publishing: blocking checks failed"), refusals
        assert _snapshot(settings.published_dir) == before
    finally:
        users.write_bytes(original)


def _status_change(instance: Any, run_id: str, kind: DagsterEventType) -> Any:
    """The run's status-change record from the instance-wide index the sensor reads (the
    storage ids of ``get_records_for_run`` are per-run shard ids on SQLite)."""
    records = instance.fetch_run_status_changes(kind, limit=1000).records
    (record,) = [r for r in records if r.event_log_entry.run_id == run_id]
    return record


def test_export_after_refresh_sensor(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_db_url: str
) -> None:
    from dagster import (
        DagsterRunStatus,
        RunRequest,
        SkipReason,
        build_run_status_sensor_context,
        build_sensor_context,
    )

    from orchestration.defs.ingestion import raw_key
    from orchestration.resources import PetProSettings
    from orchestration.tags import EXPORT_AFTER_TAG

    settings = pipeline.settings
    instance = instance_for(settings)
    sensor = pipeline.defs.get_sensor_def("export_after_refresh")
    run = instance.get_run_by_id(pipeline.second.run_id)
    assert run.job_name == "nightly_refresh" and run.status == DagsterRunStatus.SUCCESS
    success = _status_change(instance, run.run_id, DagsterEventType.RUN_SUCCESS)

    def petpro(export_after: bool) -> dict[str, PetProSettings]:
        """The ``petpro`` resource with PETPRO_EXPORT_AFTER_REFRESH on or off."""
        update = {"export_after_refresh": export_after}
        return {"petpro": PetProSettings.from_settings(settings.model_copy(update=update))}

    # The sensor body on the real successful nightly run of the shared pipeline.
    def evaluate(dagster_run: Any, event: Any, export_after: bool) -> Any:
        context = build_run_status_sensor_context(
            sensor_name="export_after_refresh",
            dagster_event=event.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=dagster_run,
            resources=petpro(export_after),
        )
        return sensor(context)

    request = evaluate(run, success, True)
    assert isinstance(request, RunRequest)
    assert request.run_key == f"export-after-{run.run_id}"
    assert isinstance(evaluate(run, success, False), SkipReason)

    # Two more real nightly runs in the same instance, each touching one small table in a
    # scratch home (the code location built for it): one fails (a database without the
    # schema), one succeeds with the per-run tag petpro/export_after=true. The source URL
    # comes from the environment.
    scratch = build_definitions(settings.model_copy(update={"home": tmp_path / "scratch"}))
    scratch_nightly = scratch.resolve_job_def("nightly_refresh")
    before_failed = initial_sensor_cursor(pipeline.defs, instance)
    monkeypatch.setenv("PETPRO_SOURCE_URL", empty_db_url)
    partition = pipeline.source.end.isoformat()
    failed = scratch_nightly.execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=[raw_key("vendors")],
        raise_on_error=False,
    )
    assert not failed.success
    monkeypatch.setenv("PETPRO_SOURCE_URL", pipeline.source.url)
    tagged = scratch_nightly.execute_in_process(
        instance=instance,
        partition_key=partition,
        asset_selection=[raw_key("vendors")],
        tags={EXPORT_AFTER_TAG: "true"},
        raise_on_error=False,
    )
    assert tagged.success
    after_tagged = initial_sensor_cursor(pipeline.defs, instance)

    # Sensor ticks over the instance's run-status events, as the daemon runs them (a tick
    # handles one matching run, then the next tick goes on from its cursor), from the cursor
    # the sensor had just before the fixture's second nightly run. After it: the backfill
    # run (another job), the failing-check run and the failed run above (failures), the
    # tagged run (success).
    def tick(cursor: str, export_after: bool) -> list[RunRequest]:
        requests: list[RunRequest] = []
        for _ in range(50):
            context = build_sensor_context(
                instance=instance, cursor=cursor, resources=petpro(export_after)
            )
            data = sensor.evaluate_tick(context)
            requests += data.run_requests or []
            if data.cursor is None or data.cursor == cursor:
                return requests
            cursor = data.cursor
        raise AssertionError("the sensor cursor never settled")

    requests = tick(pipeline.sensor_cursor, True)
    assert [r.run_key for r in requests] == [
        f"export-after-{run.run_id}",
        f"export-after-{tagged.run_id}",
    ]
    # The request targets the sensor's one job (run requests leave job_name to it).
    assert sensor.job_name == "export_reports"
    assert all(r.job_name in (None, "export_reports") for r in requests)
    assert [r.run_key for r in tick(pipeline.sensor_cursor, False)] == [
        f"export-after-{tagged.run_id}"
    ]
    # A failed nightly run never asks for exports, even when enabled.
    assert [r.run_key for r in tick(before_failed, True)] == [f"export-after-{tagged.run_id}"]
    assert tick(after_tagged, True) == []
