"""End to end through Dagster: real PostgreSQL, ingestion, dbt and in-process runs.

One module-scoped pipeline: a nightly run on the seeded history, ``simulate_day``, a nightly
run on the next partition. Its publication must equal a from-scratch full rebuild of the same
source in another home (every mart, row for row); a failing error-severity dbt test must
stop publication and leave the published files byte-identical; and a reader polling the
published database and Parquet files while publications happen must never see an error or
a mix of versions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterEventType

from orchestration.location import build_definitions
from orchestration.runner import RunSummary, refresh
from petpro.settings import Settings

from .conftest import SeededSource, home_settings

pytestmark = pytest.mark.slow


@dataclass
class Pipeline:
    settings: Settings
    defs: Any
    first: RunSummary
    second: RunSummary
    source: SeededSource


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
    simulate_day(seeded_source.url, seeded_source.end + timedelta(days=1), timezone="UTC")
    second = refresh(settings, day=seeded_source.end + timedelta(days=1), defs=defs)
    return Pipeline(settings, defs, first, second, seeded_source)


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
    assert pipeline.second.steps["dbt_incremental_models"].status == "success"

    full = home_settings(monkeypatch, tmp_path / "full", pipeline.source.url)
    summary = refresh(full, full=True)
    assert summary.success

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
        # on the source), and the Parquet marts hold the same rows as the database.
        hwm = con.execute("select distinct high_water_mark from inc._publication").fetchall()
        rows = dict(con.execute("select mart, row_count from inc._publication").fetchall())
        for mart in marts:
            parquet = inc.published_marts_dir / f"{mart}.parquet"
            assert pq.read_metadata(parquet).num_rows == rows[mart]
            same = con.execute(
                f"select count(*) from (select * from inc.{mart} except all "
                f"select * from read_parquet('{parquet}'))"
            ).fetchone()[0]
            assert same == 0, mart
    with psycopg.connect(pipeline.source.url) as pg:
        newest = pg.execute('select max("timestamp") from activities').fetchone()[0]
    assert len(hwm) == 1 and hwm[0][0] == newest


READER = textwrap.dedent(
    """
    import json, os, sys, time
    import duckdb, pyarrow.parquet as pq
    published, seconds = sys.argv[1], float(sys.argv[2])
    errors, db_runs, pq_runs, loops = [], set(), set(), 0
    end = time.time() + seconds
    while time.time() < end:
        loops += 1
        try:
            with duckdb.connect(os.path.join(published, "warehouse.duckdb"), read_only=True) as con:
                rows = con.execute("select run_id, mart, row_count from _publication").fetchall()
                runs = {r[0] for r in rows}
                if len(runs) != 1:
                    errors.append(f"mixed _publication {runs}")
                for run, mart, count in rows:
                    got = con.execute(f'select count(*) from "{mart}"').fetchone()[0]
                    if got != count:
                        errors.append(f"db {mart}: {got} rows, _publication says {count}")
                db_runs |= runs
            folder = os.path.realpath(os.path.join(published, "marts"))
            manifest = json.load(open(os.path.join(folder, "_publication.json")))
            for mart, count in manifest["marts"].items():
                meta = pq.read_metadata(os.path.join(folder, mart + ".parquet"))
                run = meta.metadata[b"petpro.run_id"].decode()
                if run != manifest["run_id"] or meta.num_rows != count:
                    errors.append(f"parquet {mart}: run {run} rows {meta.num_rows} vs {manifest}")
            pq_runs.add(manifest["run_id"])
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
        [sys.executable, str(script), str(settings.published_dir), "12"],
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
    assert os.path.realpath(settings.published_marts_dir).endswith("/marts")


def _snapshot(published: Path) -> dict[str, bytes]:
    files = {"warehouse.duckdb": (published / "warehouse.duckdb").read_bytes()}
    files["marts ->"] = os.readlink(published / "marts").encode()
    folder = Path(os.path.realpath(published / "marts"))
    for path in sorted(folder.iterdir()):
        files[f"marts/{path.name}"] = path.read_bytes()
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
    finally:
        users.write_bytes(original)
