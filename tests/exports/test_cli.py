"""``petpro export`` run as a real subprocess: ad-hoc downloads, and one-line errors (exit code
1, no traceback) for unknown reports, bad dates and a missing publication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from petpro.settings import REPO_ROOT
from tests.exports.helpers import published_mart, read_csv_rows


def _petpro(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PETPRO_HOME": str(home), "COLUMNS": "200"}
    env.pop("PETPRO_TIMEZONE", None)
    return subprocess.run(
        [sys.executable, "-m", "cli", "export", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.strip().startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_cli_ad_hoc_range_download(published, tmp_path):
    out = tmp_path / "march"
    proc = _petpro(
        published.home,
        "--report", "service_usage",
        "--report", "active_users",
        "--format", "csv",
        "--format", "parquet",
        "--from", "2024-03-01",
        "--to", "2024-03-31",
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "service_usage" in proc.stdout and "total" in proc.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "active_users.csv",
        "active_users.parquet",
        "manifest.json",
        "service_usage.csv",
        "service_usage.parquet",
    ]
    expected = published_mart(
        published.settings.published_db,
        "mart_service_usage",
        "where month between DATE '2024-03-01' and DATE '2024-03-31'",
    )
    got = pq.read_table(out / "service_usage.parquet")
    assert got.to_pylist() == expected.to_pylist()
    assert got.num_rows == 3
    rows = read_csv_rows(out / "active_users.csv")
    assert [r[0] for r in rows[1:]] == ["2024-03-18", "2024-03-19", "2024-03-20"]
    # The dated tree is untouched by an --out download.
    assert not (published.home / "exports" / "latest").exists()


def test_cli_default_export_and_list(published):
    proc = _petpro(published.home, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    latest = published.home / "exports" / "latest"
    assert os.readlink(latest) == "2024-03-20"
    assert (latest / "executive_summary.csv").is_file()
    listing = _petpro(published.home, "--list")
    assert listing.returncode == 0
    assert "executive_summary" in listing.stdout and "cohort_week" in listing.stdout


def test_cli_unknown_report_lists_valid_names(published):
    proc = _petpro(published.home, "--report", "customer_profile")
    _assert_clean_error(
        proc, "unknown report 'customer_profile'", "customer_growth", "repeat_customers"
    )


def test_cli_bad_dates(published):
    _assert_clean_error(
        _petpro(published.home, "--from", "2024-03-10", "--to", "2024-03-01"),
        "--from 2024-03-10 is after --to 2024-03-01",
    )
    _assert_clean_error(
        _petpro(published.home, "--from", "2024-13-01"), "--from '2024-13-01' is not a date"
    )
    _assert_clean_error(_petpro(published.home, "--date", "yesterday"), "YYYY-MM-DD")
    _assert_clean_error(_petpro(published.home, "--format", "docx"), "unknown format 'docx'")
    _assert_clean_error(
        _petpro(published.home, "--report", "customer_growth", "--format", "pdf"),
        "customer_growth is written as csv, parquet, xlsx, not pdf",
    )
    _assert_clean_error(
        _petpro(published.home, "--format", "pdf", "--edition", "daily"),
        "unknown edition 'daily'",
    )
    assert not (published.home / "exports").exists()


def test_cli_nothing_published(export_home):
    _assert_clean_error(_petpro(export_home), "nothing is published yet", "petpro refresh")
