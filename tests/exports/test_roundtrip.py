"""Every exported file, read back with an independent reader, equals its published mart; the
manifest describes the files truthfully; the executive summary matches hand-computed numbers;
nothing personal leaves the warehouse."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from exports.errors import BadDateError, NothingPublishedError
from exports.reports import REPORTS
from exports.run import ExportResult, export_reports
from petpro.settings import Settings, get_settings
from petpro.vocabulary import PII_COLUMNS
from tests.exports.helpers import published_mart, read_csv_rows, safe
from tests.exports.publication import HWM, MARTS, PUBLISHED_AT, RUN_ID, build_publication

MART_REPORTS = [r for r in REPORTS if r.mart is not None]

# Contract types of a few columns, written out by hand: Parquet must keep them.
EXPECTED_ARROW = {
    ("mart_service_usage", "month"): pa.date32(),
    ("mart_service_usage", "net_revenue"): pa.decimal128(18, 2),
    ("mart_service_usage", "bookings"): pa.int64(),
    ("mart_service_usage", "completion_rate"): pa.float64(),
    ("mart_customer_growth", "is_complete"): pa.bool_(),
    ("mart_activity_heatmap", "day_of_week"): pa.int32(),
    ("mart_cohort_retention", "months_since_signup"): pa.int32(),
    ("mart_customer_demographics", "segment"): pa.string(),
}


@dataclass
class Shared:
    settings: Settings
    result: ExportResult


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Shared:
    """One full export, shared by the read-only checks of this module (saves ~1 s a test)."""
    home = tmp_path_factory.mktemp("export_home")
    settings = get_settings(home=home, timezone="UTC", export_retention=30)
    build_publication(settings)
    return Shared(settings, export_reports(settings))


@pytest.fixture
def exported(shared: Shared) -> ExportResult:
    return shared.result


def test_declared_reports_cover_every_aggregate_mart():
    aggregate = set(MARTS) - {"mart_customer_profile", "mart_customer_activity_daily"}
    assert {r.mart for r in MART_REPORTS} == aggregate
    assert len(MART_REPORTS) == 12  # 11 dbt aggregates + recommended services by city
    assert [r.name for r in REPORTS if r.mart is None] == [
        "executive_summary",
        "stakeholder_report",
    ]


def test_default_folder_and_latest(shared, exported):
    exports_dir = shared.settings.exports_dir
    assert exported.report_date == date(2024, 3, 20)
    assert exported.folder == exports_dir / "2024-03-20"
    assert (exports_dir / "latest").is_symlink()
    assert (exports_dir / "latest").resolve() == exported.folder
    names = sorted(p.name for p in exported.folder.iterdir())
    tables = [r for r in REPORTS if r.name != "stakeholder_report"]
    expected = sorted(f"{r.name}.{ext}" for r in tables for ext in ("csv", "parquet", "xlsx"))
    pdfs = ["stakeholder_report_monthly.pdf", "stakeholder_report_weekly.pdf"]
    assert names == sorted([*expected, *pdfs, "manifest.json"])
    assert not [p for p in exports_dir.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.parametrize("report", MART_REPORTS, ids=lambda r: r.name)
def test_parquet_round_trip_keeps_values_and_types(shared, exported, report):
    expected = published_mart(shared.settings.published_db, report.mart)
    got = pq.read_table(exported.folder / f"{report.name}.parquet")
    assert got.schema.names == expected.schema.names
    assert got.schema.types == expected.schema.types
    assert got.num_rows == len(MARTS[report.mart][1])
    assert got.to_pylist() == expected.to_pylist()
    for (mart, column), arrow_type in EXPECTED_ARROW.items():
        if mart == report.mart:
            assert got.schema.field(column).type == arrow_type


@pytest.mark.parametrize("report", MART_REPORTS, ids=lambda r: r.name)
def test_csv_round_trip_with_types(shared, exported, report):
    expected = published_mart(shared.settings.published_db, report.mart)
    path = exported.folder / f"{report.name}.csv"
    got = pa_csv.read_csv(
        path,
        convert_options=pa_csv.ConvertOptions(
            column_types=expected.schema,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    assert got.schema.names == expected.schema.names
    want = [{k: safe(v) for k, v in row.items()} for row in expected.to_pylist()]
    assert got.to_pylist() == want
    raw = path.read_bytes()
    assert raw.count(b"\r\n") >= got.num_rows + 1  # CRLF line ends (RFC 4180)
    assert not raw.startswith(b"\xef\xbb\xbf")


def _xlsx_value(value, arrow_type):
    if value is None:
        return None
    if pa.types.is_date(arrow_type):
        return datetime(value.year, value.month, value.day)
    if pa.types.is_decimal(arrow_type):
        return float(value)
    return safe(value)


@pytest.mark.parametrize("report", MART_REPORTS, ids=lambda r: r.name)
def test_xlsx_round_trip_typed_cells(shared, exported, report):
    expected = published_mart(shared.settings.published_db, report.mart)
    wb = openpyxl.load_workbook(exported.folder / f"{report.name}.xlsx")
    assert wb.sheetnames == [report.name]
    ws = wb[report.name]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == expected.schema.names
    assert len(rows) - 1 == expected.num_rows
    types = expected.schema.types
    want = [
        [_xlsx_value(v, t) for v, t in zip(row.values(), types, strict=True)]
        for row in expected.to_pylist()
    ]
    got = [[float(v) if isinstance(v, Decimal) else v for v in r] for r in rows[1:]]
    # openpyxl stores doubles with 16 significant digits (Excel itself keeps 15).
    assert got == [
        [pytest.approx(v, rel=1e-15) if isinstance(v, float) else v for v in row] for row in want
    ]
    # Typed cells: numbers are numbers, dates are dates, text is text.
    for col, arrow_type in enumerate(types, start=1):
        for row in range(2, ws.max_row + 1):
            cell = ws.cell(row=row, column=col)
            if cell.value is None:
                continue
            if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
                assert cell.data_type == "n"
            elif pa.types.is_decimal(arrow_type):
                assert cell.data_type == "n"
                assert cell.number_format == "#,##0.00"
            elif pa.types.is_date(arrow_type):
                assert cell.is_date
            elif pa.types.is_string(arrow_type):
                assert cell.data_type == "s"
    # Header styled, frozen, widths set.
    header = ws["A1"]
    assert header.font.bold
    assert header.fill.fill_type == "solid"
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["A"].width >= len(expected.schema.names[0])


def test_manifest_matches_files(shared, exported):
    manifest = json.loads(exported.manifest_path.read_text(encoding="utf-8"))
    assert manifest["report_date"] == "2024-03-20"
    assert manifest["publication"] == {
        "run_id": RUN_ID,
        "published_at": PUBLISHED_AT.isoformat(),
        "high_water_mark": HWM.isoformat(),
    }
    files = manifest["files"]
    assert len(files) == (len(REPORTS) - 1) * 3 + 2
    assert {f["file"] for f in files} == {p.name for p in exported.folder.iterdir()} - {
        "manifest.json"
    }
    for entry in files:
        path = exported.folder / entry["file"]
        data = path.read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["publication"] == {
            "run_id": RUN_ID,
            "published_at": PUBLISHED_AT.isoformat(),
        }
        assert entry["high_water_mark"] == HWM.isoformat()
        assert entry["generated_at"] == manifest["generated_at"]
        if entry["format"] == "pdf":
            # Editions as of the report date 2024-03-20: February, and the week of 11-17 March.
            period = {
                "monthly": {"grain": "month", "start": "2024-02-01", "end": "2024-02-29"},
                "weekly": {"grain": "week", "start": "2024-03-11", "end": "2024-03-17"},
            }[entry["edition"]]
            assert {k: entry["period"][k] for k in period} == period
            assert entry["file"] == f"stakeholder_report_{entry['edition']}.pdf"
            assert entry["rows"] == 0 and entry["pages"] == 6
            assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
            assert "mart_customer_growth" in entry["sources"]
            continue
        names = [c["name"] for c in entry["columns"]]
        if entry["format"] == "parquet":
            table = pq.read_table(path)
            assert entry["rows"] == table.num_rows
            assert names == table.schema.names
        elif entry["format"] == "csv":
            rows = read_csv_rows(path)
            assert entry["rows"] == len(rows) - 1
            assert names == rows[0]
        else:
            ws = openpyxl.load_workbook(path)[entry["report"]]
            assert entry["rows"] == ws.max_row - 1
            assert names == [c.value for c in ws[1]]
        mart = next(r.mart for r in REPORTS if r.name == entry["report"])
        if mart is not None:
            assert entry["rows"] == len(MARTS[mart][1])
            assert entry["sources"] == [mart]
    # Column types are the contract's DuckDB types.
    usage = next(f for f in files if f["file"] == "service_usage.parquet")
    types = {c["name"]: c["type"] for c in usage["columns"]}
    assert types["month"] == "DATE"
    assert types["net_revenue"] == "DECIMAL(18,2)"
    assert types["bookings"] == "BIGINT"
    assert types["completion_rate"] == "DOUBLE"
    # Result object agrees with the manifest.
    assert exported.total_bytes == sum(f["bytes"] for f in files)
    assert exported.total_rows == sum(len(rows) for _, rows in MARTS.values()) - 2 + 16


SUMMARY_2024_03_20 = [
    # section, metric, period_start, period_end, is_complete, currency, value, unit
    ("growth", "new_customers", "2024-03-01", "2024-03-31", False, None, 6, "customers"),
    ("growth", "cumulative_customers", "2024-03-01", "2024-03-31", False, None, 31, "customers"),
    ("activity", "active_customers", "2024-03-01", "2024-03-31", False, None, 18, "customers"),
    ("activity", "dau", "2024-03-20", "2024-03-20", False, None, 5, "customers"),
    ("activity", "wau", "2024-03-20", "2024-03-20", False, None, 11, "customers"),
    ("activity", "mau", "2024-03-20", "2024-03-20", False, None, 19, "customers"),
    ("activity", "stickiness", "2024-03-20", "2024-03-20", False, None, 5 / 19, "rate"),
    ("bookings", "bookings", "2024-03-01", "2024-03-31", False, None, 12, "bookings"),
    ("bookings", "completion_rate", "2024-03-01", "2024-03-31", False, None, 6 / 12, "rate"),
    ("bookings", "cancellation_rate", "2024-03-01", "2024-03-31", False, None, 3 / 12, "rate"),
    ("revenue", "net_revenue", "2024-03-01", "2024-03-31", False, "EUR", 230.0, "money"),
    ("revenue", "net_revenue", "2024-03-01", "2024-03-31", False, "USD", 200.0, "money"),
    ("retention", "engaged_customers", "2024-01-01", "2024-01-31", True, None, 8, "customers"),
    ("retention", "retention_rate", "2024-01-01", "2024-01-31", True, None, 0.625, "rate"),
    ("retention", "churn_rate", "2024-01-01", "2024-01-31", True, None, 0.375, "rate"),
    ("repeat", "repeat_rate", "2024-03-01", "2024-03-31", False, None, 0.4, "rate"),
]


def _summary_rows(table: pa.Table) -> list[tuple]:
    out = []
    for r in table.to_pylist():
        out.append(
            (
                r["section"],
                r["metric"],
                r["period_start"].isoformat() if r["period_start"] else None,
                r["period_end"].isoformat() if r["period_end"] else None,
                r["is_complete"],
                r["currency"],
                r["value"],
                r["unit"],
            )
        )
    return out


def test_executive_summary_hand_computed(exported):
    got = _summary_rows(pq.read_table(exported.folder / "executive_summary.parquet"))
    assert len(got) == len(SUMMARY_2024_03_20)
    for g, w in zip(got, SUMMARY_2024_03_20, strict=True):
        assert g[:6] == w[:6] and g[7] == w[7]
        assert g[6] == pytest.approx(w[6], rel=1e-12)
    # The same numbers in the spreadsheet, as numbers.
    ws = openpyxl.load_workbook(exported.folder / "executive_summary.xlsx")["executive_summary"]
    values = [row[6] for row in ws.iter_rows(min_row=2, values_only=True)]
    assert values == pytest.approx([w[6] for w in SUMMARY_2024_03_20])


def test_executive_summary_for_an_earlier_month(published):
    result = export_reports(published.settings, report_date=date(2024, 2, 15), formats=["parquet"])
    got = {
        (r[1], r[5]): r
        for r in _summary_rows(pq.read_table(result.folder / "executive_summary.parquet"))
    }
    assert got[("new_customers", None)][6] == 15
    assert got[("new_customers", None)][4] is True  # February ended before the HWM
    assert got[("cumulative_customers", None)][6] == 25
    # No mart_active_users day between Feb 1 and Feb 15: unknown, not zero.
    assert got[("dau", None)][6] is None and got[("dau", None)][2] is None
    assert got[("bookings", None)][6] == 10
    assert got[("completion_rate", None)][6] == pytest.approx(0.8)
    assert got[("net_revenue", "EUR")][6] == 380.0
    assert ("net_revenue", "USD") not in got
    assert got[("retention_rate", None)][2] == "2024-01-01"
    assert got[("repeat_rate", None)][6] == pytest.approx(1 / 3)


def test_default_report_date_uses_business_time_zone(published):
    # HWM 2024-03-20 15:30 UTC is already March 21 in Tokyo.
    settings = published.make_settings(timezone="Asia/Tokyo")
    result = export_reports(settings, reports=["active_users"], formats=["csv"])
    assert result.report_date == date(2024, 3, 21)
    assert result.folder.name == "2024-03-21"


def test_report_date_after_high_water_mark_is_refused(published):
    with pytest.raises(BadDateError, match="high-water mark"):
        export_reports(published.settings, report_date=date(2024, 3, 21))


def test_nothing_published_is_a_clear_error(export_home):
    with pytest.raises(NothingPublishedError, match="petpro refresh"):
        export_reports(get_settings(home=export_home))
    assert not (export_home / "exports" / "latest").exists()


EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def test_no_personal_data_in_any_report(exported):
    forbidden = {c.lower() for c in PII_COLUMNS} | {"customer_id"}
    for path in exported.folder.iterdir():
        if path.suffix == ".parquet":
            assert not {n.lower() for n in pq.read_table(path).schema.names} & forbidden
        if path.suffix == ".csv":
            rows = read_csv_rows(path)
            assert not {n.lower() for n in rows[0]} & forbidden
            assert not EMAIL.search(path.read_text(encoding="utf-8")), path.name
        if path.suffix == ".xlsx":
            ws = openpyxl.load_workbook(path).active
            for row in ws.iter_rows(values_only=True):
                for value in row:
                    assert not (isinstance(value, str) and EMAIL.search(value)), path.name
    names = {p.stem for p in exported.folder.iterdir()}
    assert not names & {"customer_profile", "customer_activity_daily"}
    assert "7d7c9b5e-0000-4000-8000-000000000001" not in "".join(
        p.read_text(encoding="utf-8") for p in exported.folder.glob("*.csv")
    )
