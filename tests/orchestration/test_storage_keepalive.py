"""Dagster's SQLite files held open during a run (orchestration.storage_keepalive).

- Through the real runner and a real Dagster instance: while a step runs, the write-ahead logs
  of the run's own file and of the cross-run index exist (Dagster's own connections are all
  closed between events, so without a held connection each close deletes the log: that is
  the cost being removed); after the run nothing is left held (no log remains), and the
  instance reads the run and its materialization back.
- Runs Dagster's run worker executes (the daemon's schedule and sensor runs, the UI's): every
  job of the code location has the in-process executor with the keepalive, and a job executed
  the way the run worker executes it (``execute_job`` of a reconstructable job, the job's own
  executor) sees both logs from inside its step (with Dagster's default executor the step runs
  in a process of its own and sees neither).
- On plain SQLite files: only existing databases in WAL mode are held (a missing file is never
  created, a rollback-journal database is left alone); without the index file (another
  storage) nothing is held and no watcher runs; a held connection blocks neither a writer nor
  a full checkpoint.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dagster import (
    AssetKey,
    Definitions,
    MaterializeResult,
    asset,
    define_asset_job,
    execute_job,
    reconstructable,
)

from orchestration.executor import EXECUTOR_NAME, petpro_executor
from orchestration.location import build_definitions
from orchestration.runner import instance_for, run_job
from orchestration.storage_keepalive import in_wal_mode, storage_files, storage_held_open
from petpro.settings import Settings


def test_a_run_holds_its_event_files_open_and_releases_them(settings: Settings) -> None:
    root = Path(instance_for(settings).root_directory)
    seen: dict[str, bool] = {}

    @asset
    def probe(context) -> None:  # unannotated: Dagster rejects the string annotation here
        index, _runs, shard = storage_files(root, context.run_id)
        seen["shard_log"] = Path(f"{shard}-wal").exists()
        seen["index_log"] = Path(f"{index}-wal").exists()

    defs = Definitions(assets=[probe], jobs=[define_asset_job("probe_job")])
    summary = run_job(settings, "probe_job", defs=defs)
    assert summary.success
    assert seen == {"shard_log": True, "index_log": True}

    shard = storage_files(root, summary.run_id)[2]
    assert in_wal_mode(shard)
    assert not Path(f"{shard}-wal").exists()  # released: the last close checkpointed it
    instance = instance_for(settings)
    record = instance.get_run_record_by_id(summary.run_id)
    assert record is not None and record.dagster_run.is_success
    assert instance.get_latest_materialization_event(AssetKey("probe")) is not None


@asset
def keepalive_probe(context) -> MaterializeResult:  # unannotated: as in the test above
    root = Path(context.instance.root_directory)
    index, _runs, shard = storage_files(root, context.run_id)
    return MaterializeResult(
        metadata={
            "shard_log": Path(f"{shard}-wal").exists(),
            "index_log": Path(f"{index}-wal").exists(),
        }
    )


def keepalive_probe_job():  # module level: what ``reconstructable`` points the run worker at
    return Definitions(
        assets=[keepalive_probe],
        jobs=[define_asset_job("keepalive_probe_job")],
        executor=petpro_executor,
    ).resolve_job_def("keepalive_probe_job")


def test_every_job_of_the_location_runs_in_process_with_the_keepalive(settings: Settings) -> None:
    jobs = build_definitions(settings).resolve_all_job_defs()
    assert {job.name: job.executor_def.name for job in jobs} == {
        job.name: EXECUTOR_NAME for job in jobs
    }
    assert "nightly_refresh" in {job.name for job in jobs}


def test_a_launched_run_holds_its_event_files_open(settings: Settings) -> None:
    instance = instance_for(settings)
    with execute_job(reconstructable(keepalive_probe_job), instance=instance) as result:
        assert result.success
        run_id = result.run_id
    event = instance.get_latest_materialization_event(AssetKey("keepalive_probe"))
    assert event is not None and event.run_id == run_id
    seen = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert seen == {"shard_log": True, "index_log": True}
    shard = storage_files(Path(instance.root_directory), run_id)[2]
    assert not Path(f"{shard}-wal").exists()  # released after the run


def _database(path: Path, *, wal: bool) -> None:
    con = sqlite3.connect(path)
    if wal:
        con.execute("pragma journal_mode=wal")
    con.execute("create table t (x integer)")
    con.commit()
    con.close()


def test_only_existing_databases_in_wal_mode_are_held(tmp_path: Path) -> None:
    index, runs, shard = storage_files(tmp_path, "run-1")
    index.parent.mkdir(parents=True)
    _database(index, wal=True)
    _database(runs, wal=False)
    with storage_held_open(tmp_path, "run-1") as held:
        assert held.take_hold() is False  # the shard is still awaited
        assert held.paths == [index]
    assert not shard.exists()  # never created by the wait
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.db"]


def test_without_the_default_layout_nothing_is_held_or_awaited(tmp_path: Path) -> None:
    with storage_held_open(tmp_path, "run-1") as held:
        assert held.paths == []
        assert "petpro-storage-keepalive" not in [t.name for t in threading.enumerate()]
    assert list(tmp_path.iterdir()) == []


def test_a_held_file_blocks_neither_writes_nor_checkpoints(tmp_path: Path) -> None:
    index = storage_files(tmp_path, "run-1")[0]
    index.parent.mkdir(parents=True)
    _database(index, wal=True)
    with storage_held_open(tmp_path, "run-1") as held:
        assert held.paths == [index]
        writer = sqlite3.connect(index, timeout=0.1)
        writer.execute("insert into t values (1)")
        writer.commit()
        busy, _log, _done = writer.execute("pragma wal_checkpoint(truncate)").fetchone()
        writer.close()
        assert busy == 0
        assert Path(f"{index}-wal").exists()  # kept: the held connection is still open
    assert not Path(f"{index}-wal").exists()
    with sqlite3.connect(index) as con:
        assert con.execute("select count(*) from t").fetchone()[0] == 1
