"""The export tree: atomic folders under failure, ``latest``, retention, reproducible bytes,
``--out`` folders and date-range filters."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import exports.writers
from exports.errors import BadDateError, ExportError, UnknownFormatError, UnknownReportError
from exports.run import export_reports
from tests.exports.helpers import published_mart, read_csv_rows


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _visible(exports_dir: Path) -> list[str]:
    return sorted(p.name for p in exports_dir.iterdir() if p.name != ".lock")


def _fail_on(monkeypatch: pytest.MonkeyPatch, report: str) -> None:
    original = exports.writers.write_xlsx

    def failing(data, path, *, stamp):
        if data.report.name == report:
            path.write_bytes(b"half a spreadsheet")
            raise OSError("disk full (injected)")
        return original(data, path, stamp=stamp)

    monkeypatch.setattr(exports.writers, "write_xlsx", failing)


def test_failure_mid_export_leaves_tree_unchanged(published, monkeypatch):
    settings = published.settings
    exports_dir = settings.exports_dir
    first = export_reports(settings, report_date=date(2024, 3, 19))
    before = _snapshot(first.folder)
    assert os.readlink(exports_dir / "latest") == "2024-03-19"

    _fail_on(monkeypatch, "service_usage")
    # A new date: no folder appears, latest keeps pointing at the previous one.
    with pytest.raises(OSError, match="injected"):
        export_reports(settings, report_date=date(2024, 3, 20))
    assert _visible(exports_dir) == ["2024-03-19", "latest"]
    assert os.readlink(exports_dir / "latest") == "2024-03-19"
    # Re-exporting an existing date: the previous folder stays whole, byte for byte.
    with pytest.raises(OSError, match="injected"):
        export_reports(settings, report_date=date(2024, 3, 19))
    assert _visible(exports_dir) == ["2024-03-19", "latest"]
    assert _snapshot(first.folder) == before

    monkeypatch.undo()
    second = export_reports(settings, report_date=date(2024, 3, 20))
    assert os.readlink(exports_dir / "latest") == "2024-03-20"
    assert (second.folder / "service_usage.xlsx").stat().st_size > 1000


def test_leftovers_of_a_killed_export_are_cleaned(published):
    exports_dir = published.settings.exports_dir
    stale = exports_dir / ".tmp-2024-03-20-deadbeef"
    stale.mkdir(parents=True)
    (stale / "customer_growth.csv").write_text("partial")
    export_reports(published.settings, reports=["customer_growth"], formats=["csv"])
    assert _visible(exports_dir) == ["2024-03-20", "latest"]


def test_retention_prunes_oldest_folders(published):
    settings = published.make_settings(export_retention=2)
    exports_dir = settings.exports_dir
    for day in (16, 17, 18, 19, 20):
        export_reports(
            settings, report_date=date(2024, 3, day), reports=["active_users"], formats=["csv"]
        )
    assert _visible(exports_dir) == ["2024-03-19", "2024-03-20", "latest"]
    assert os.readlink(exports_dir / "latest") == "2024-03-20"
    # Re-exporting an old date keeps that folder (just written) and does not move latest.
    result = export_reports(
        settings, report_date=date(2024, 3, 1), reports=["active_users"], formats=["csv"]
    )
    assert result.folder.is_dir()
    assert os.readlink(exports_dir / "latest") == "2024-03-20"
    assert "2024-03-20" in _visible(exports_dir)


def _without_generated_at(manifest: dict) -> dict:
    manifest = json.loads(json.dumps(manifest))
    manifest.pop("generated_at")
    for entry in manifest["files"]:
        entry.pop("generated_at")
    return manifest


def test_re_export_is_byte_identical(published, tmp_path):
    settings = published.settings
    first = export_reports(settings)
    before = _snapshot(first.folder)
    second = export_reports(settings)
    after = _snapshot(second.folder)
    assert sorted(before) == sorted(after)
    for name in before:
        if name != "manifest.json":
            assert before[name] == after[name], name
    m1 = json.loads(before["manifest.json"])
    m2 = json.loads(after["manifest.json"])
    assert _without_generated_at(m1) == _without_generated_at(m2)
    # Same bytes in another folder, too (no path or time inside the files).
    third = export_reports(settings, out_dir=tmp_path / "elsewhere")
    assert {k: v for k, v in _snapshot(third.folder).items() if k != "manifest.json"} == {
        k: v for k, v in before.items() if k != "manifest.json"
    }


def test_out_dir_is_built_atomically_and_protected(published, tmp_path):
    out = tmp_path / "download"
    result = export_reports(published.settings, reports=["repeat_customers"], out_dir=out)
    assert result.folder == out.resolve()
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "repeat_customers.csv",
        "repeat_customers.parquet",
        "repeat_customers.xlsx",
    ]
    assert not (published.settings.exports_dir / "latest").exists()
    # Re-exporting into the same --out replaces it.
    export_reports(published.settings, reports=["active_users"], formats=["csv"], out_dir=out)
    assert sorted(p.name for p in out.iterdir()) == ["active_users.csv", "manifest.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".tmp-", ".old-"))]
    # A folder that holds something else is never replaced.
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.docx").write_text("years of work")
    with pytest.raises(ExportError, match="non-empty folder"):
        export_reports(published.settings, out_dir=precious)
    assert (precious / "thesis.docx").read_text() == "years of work"


@pytest.mark.parametrize(
    ("report", "mart", "column"),
    [
        ("customer_growth", "mart_customer_growth", "period_start"),
        ("active_users", "mart_active_users", "activity_date"),
        ("service_usage", "mart_service_usage", "month"),
        ("cohort_retention", "mart_cohort_retention", "cohort_month"),
        ("nday_retention", "mart_nday_retention", "cohort_week"),
    ],
)
def test_date_range_filters_on_period_column(published, tmp_path, report, mart, column):
    result = export_reports(
        published.settings,
        reports=[report, "activity_heatmap"],
        formats=["parquet", "csv"],
        date_from=date(2024, 2, 1),
        date_to=date(2024, 3, 18),
        out_dir=tmp_path / "range",
    )
    expected = published_mart(
        published.settings.published_db,
        mart,
        f"where {column} between DATE '2024-02-01' and DATE '2024-03-18'",
    )
    got = pq.read_table(result.folder / f"{report}.parquet")
    assert got.to_pylist() == expected.to_pylist()
    assert (
        0
        < got.num_rows
        < pq.read_metadata(published.settings.published_marts_dir / f"{mart}.parquet").num_rows
    )
    assert len(read_csv_rows(result.folder / f"{report}.csv")) == expected.num_rows + 1
    # Not time-grained: exported whole, and said so.
    assert result.untouched_by_range == ["activity_heatmap"]
    assert pq.read_table(result.folder / "activity_heatmap.parquet").num_rows == 3
    manifest = json.loads(result.manifest_path.read_text())
    filters = {f["report"]: f["filter"] for f in manifest["files"]}
    assert filters[report] == {"column": column, "from": "2024-02-01", "to": "2024-03-18"}
    assert filters["activity_heatmap"] is None


def test_open_ended_range(published, tmp_path):
    result = export_reports(
        published.settings,
        reports=["active_users"],
        formats=["parquet"],
        date_from=date(2024, 3, 19),
        out_dir=tmp_path / "r",
    )
    days = pq.read_table(result.folder / "active_users.parquet")["activity_date"].to_pylist()
    assert days == [date(2024, 3, 19), date(2024, 3, 20)]


def test_selection_errors(published):
    with pytest.raises(UnknownReportError, match="customer_growth"):
        export_reports(published.settings, reports=["customer_profile"])
    with pytest.raises(UnknownFormatError, match="csv, parquet, xlsx"):
        export_reports(published.settings, formats=["json"])
    with pytest.raises(BadDateError, match="after --to"):
        export_reports(published.settings, date_from=date(2024, 3, 2), date_to=date(2024, 3, 1))
    assert (
        not published.settings.exports_dir.exists()
        or _visible(published.settings.exports_dir) == []
    )
    # A mart name is accepted for its report.
    result = export_reports(published.settings, reports=["mart_repeat_customers"], formats=["csv"])
    assert [f.report for f in result.files] == ["repeat_customers"]
