"""Formula-injection neutralisation in CSV and XLSX (text only, never numbers) and Unicode
surviving both; Parquet keeps the exact published text."""

from __future__ import annotations

import openpyxl
import pyarrow.parquet as pq
import pytest

from exports.run import export_reports
from tests.exports.helpers import read_csv_rows
from tests.exports.publication import HOSTILE, UNICODE


@pytest.fixture
def exported(published):
    return export_reports(
        published.settings,
        reports=["customer_demographics", "service_usage", "customer_growth"],
    )


def _column(rows: list[list], name: str) -> list:
    index = rows[0].index(name)
    return [r[index] for r in rows[1:]]


def test_csv_neutralises_hostile_text_only(exported):
    rows = read_csv_rows(exported.folder / "customer_demographics.csv")
    segments = _column(rows, "segment")
    for hostile in HOSTILE:
        assert "'" + hostile in segments, hostile
        assert hostile not in segments
    for value in segments:
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    # The segment with a comma, quotes and a line break survives RFC 4180 quoting intact.
    assert 'Berlin, "Mitte"\nNord' in segments
    # Negative numbers stay numbers.
    assert "-15.25" in _column(rows, "net_revenue")
    growth = read_csv_rows(exported.folder / "customer_growth.csv")
    assert "-0.6" in _column(growth, "growth_rate")
    usage = read_csv_rows(exported.folder / "service_usage.csv")
    assert "-20.00" in _column(usage, "net_revenue")
    assert "'=cmd|'/C calc'!A0" in _column(usage, "service_category")
    # Raw bytes: no field starts with a formula character (quoted or not).
    raw = (exported.folder / "customer_demographics.csv").read_text(encoding="utf-8")
    for bad in ('"=', '"+', '"@', ",=", ",+", ",@"):
        assert bad not in raw


def test_xlsx_neutralises_hostile_text_only(exported):
    ws = openpyxl.load_workbook(exported.folder / "customer_demographics.xlsx").active
    header = [c.value for c in ws[1]]
    seg, rev = header.index("segment") + 1, header.index("net_revenue") + 1
    segments = [ws.cell(row=r, column=seg) for r in range(2, ws.max_row + 1)]
    values = [c.value for c in segments]
    for hostile in HOSTILE:
        assert "'" + hostile in values, repr(hostile)
    for cell in segments:
        assert cell.data_type == "s"  # text, never a formula
    revenue = [ws.cell(row=r, column=rev) for r in range(2, ws.max_row + 1)]
    negative = [c for c in revenue if isinstance(c.value, (int, float)) and c.value < 0]
    assert [c.value for c in negative] == [-15.25]
    assert negative[0].data_type == "n"
    usage = openpyxl.load_workbook(exported.folder / "service_usage.xlsx").active
    cells = [c for row in usage.iter_rows(min_row=2) for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert -20 in [c.value for c in cells]


def test_parquet_keeps_exact_text(exported):
    segments = pq.read_table(exported.folder / "customer_demographics.parquet")["segment"]
    assert set(HOSTILE) <= set(segments.to_pylist())


@pytest.mark.parametrize("value", UNICODE)
def test_unicode_survives_csv_and_xlsx(exported, value):
    csv_text = {
        v
        for name in ("customer_demographics", "service_usage")
        for row in read_csv_rows(exported.folder / f"{name}.csv")
        for v in row
    }
    assert value in csv_text
    xlsx_text = {
        v
        for name in ("customer_demographics", "service_usage")
        for row in openpyxl.load_workbook(exported.folder / f"{name}.xlsx").active.iter_rows(
            values_only=True
        )
        for v in row
    }
    assert value in xlsx_text
