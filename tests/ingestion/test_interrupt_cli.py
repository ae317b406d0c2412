"""A run killed mid-write leaves no visible partial file and a re-run converges; the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ingestion.run import run_ingestion
from petpro.settings import Settings
from tests.ingestion.oracles import (
    assert_reconciled,
    file_digests,
    lake_partition_checksums,
    source_partition_checksums,
)

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PETPRO = REPO / ".venv" / "bin" / "petpro"

# Small driver batches so that the kill lands between partitions, with files half-written.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import ingestion.extract as extract
    extract._BATCH_HINT_BYTES = 16 * 1024
    from ingestion.run import run_ingestion
    from petpro.settings import get_settings

    def progress(table, done, total):
        if table == "activities" and done >= int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)

    run_ingestion(get_settings(), full=True, progress=progress)
    """
)


def test_killed_run_leaves_no_partial_file_and_rerun_converges(
    seeded: Settings, source_url: str, other_home: Settings
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, "1500"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    root = seeded.raw_dir / "activities"
    partitions = [p for p in root.iterdir() if p.is_dir()]
    assert partitions  # it died mid-table, after writing some partitions
    visible = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert visible and all(p.name in ("data.parquet", "_rejected.parquet") for p in visible)
    for path in visible:
        pq.read_metadata(path)  # every visible file is complete and readable
    assert not (seeded.state_dir / "activities.json").exists()  # watermark did not move

    run = run_ingestion(seeded)
    assert run.ok
    assert not [p for p in seeded.lake_dir.rglob("*") if p.name.endswith(".tmp")]
    assert_reconciled(seeded, source_url)
    run_ingestion(other_home, full=True)
    assert file_digests(other_home.raw_dir) == file_digests(seeded.raw_dir)


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(env or os.environ)
    env["COLUMNS"] = "200"  # rich sizes the summary table to the terminal
    return subprocess.run(
        [str(PETPRO), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )


def test_cli_ingest_summary_backfill_and_errors(seeded: Settings, source_url: str) -> None:
    done = _cli("ingest", "--tables", "users,activities")
    assert done.returncode == 0, done.stderr + done.stdout
    for word in ("users", "activities", "rows/s", "rejected", "run record"):
        assert word in done.stdout
    assert (seeded.raw_dir / "users" / "data.parquet").exists()
    assert not (seeded.raw_dir / "bookings").exists()

    days = sorted(
        p.name.removeprefix("event_date=") for p in (seeded.raw_dir / "activities").iterdir()
    )
    first, second = days[0], days[1]
    backfill = _cli("ingest", "--dates", f"{first}..{second}")
    assert backfill.returncode == 0, backfill.stderr + backfill.stdout
    record = json.loads(sorted((seeded.state_dir / "runs").glob("*.json"))[-1].read_text())
    assert list(record["tables"]) == ["activities"]
    assert record["tables"]["activities"]["mode"] == "backfill"
    lo, hi = date.fromisoformat(first), date.fromisoformat(second)
    expected = [(lo + timedelta(days=i)).isoformat() for i in range((hi - lo).days + 1)]
    assert record["tables"]["activities"]["touched_dates"] == expected

    bad = _cli("ingest", "--dates", "2025-02-30..2025-03-01")
    assert bad.returncode == 1 and "--dates" in bad.stderr and "Traceback" not in bad.stderr

    env = os.environ.copy()
    env["PETPRO_PII_KEY"] = ""
    refused = _cli("ingest", "--tables", "activities", env=env)
    assert refused.returncode == 1
    assert "PETPRO_PII_KEY" in refused.stderr and "Traceback" not in refused.stderr

    # Backfill replaced those partitions with the same rows: the lake still reconciles.
    assert lake_partition_checksums(seeded) == source_partition_checksums(
        source_url, seeded.timezone
    )
