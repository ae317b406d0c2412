"""A run on an unchanged source costs what changed: no Great Expectations, no full date scan,
no file decoded again; and a change it must see (a deleted activity) still gets found."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg

from ingestion.run import run_ingestion
from petpro.settings import Settings
from tests.ingestion.oracles import assert_reconciled

REPO = Path(__file__).resolve().parents[2]

SECOND_RUN = textwrap.dedent(
    """
    import json, sys
    from ingestion import quality_worker
    from ingestion.run import run_ingestion
    from petpro.settings import get_settings

    run = run_ingestion(get_settings())
    print(json.dumps({
        "gx_imported": "great_expectations" in sys.modules,
        "pandas_imported": "pandas" in sys.modules,
        "workers_started": quality_worker.workers_started(),
        "files_changed": {t: r.files_changed for t, r in run.tables.items()},
        "quality": {t: r.quality.to_dict() for t, r in run.tables.items()},
    }))
    """
)


def test_unchanged_source_runs_no_great_expectations(seeded: Settings) -> None:
    first = run_ingestion(seeded)
    assert first.ok
    env = {
        **os.environ,
        "PETPRO_HOME": str(seeded.home),
        "PETPRO_SOURCE_URL": str(seeded.source_url),
    }
    out = subprocess.run(
        [sys.executable, "-c", SECOND_RUN],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    second = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(second["files_changed"].values()) == {0}
    assert not second["gx_imported"]
    assert not second["pandas_imported"]
    # Nor started ahead: no table had rows newer than its watermark.
    assert second["workers_started"] == 0
    # The verdict is the one of the run that wrote the lake, not a blank pass.
    for table, result in first.tables.items():
        carried = second["quality"][table]
        assert carried["errors"] == result.quality.errors
        assert carried["warnings"] == result.quality.warnings
        assert carried["success"] == result.quality.success


def test_unchanged_activities_are_not_counted_date_by_date(
    seeded: Settings, source_url: str
) -> None:
    run_ingestion(seeded)
    quiet = run_ingestion(seeded).tables["activities"]
    assert quiet.date_scan == "changed"
    assert quiet.files_changed == 0
    # An old activity deleted directly leaves no trace in updated_at: only counting finds it.
    with psycopg.connect(source_url) as conn:
        old = conn.execute(
            "select id, timestamp from activities order by timestamp limit 1"
        ).fetchone()
        conn.execute("delete from activities where id = %s", (old[0],))
    found = run_ingestion(seeded).tables["activities"]
    assert found.date_scan == "all"
    assert found.deleted == 1
    assert_reconciled(seeded, source_url)
