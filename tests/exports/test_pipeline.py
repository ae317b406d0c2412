"""End to end: export a real publication produced by the whole pipeline from a seeded source
whose city names are hostile, and check that they arrive neutralised in CSV and XLSX.

Uses the session fixture ``pipeline`` of tests/conftest.py (an object with ``.settings`` whose
home holds a real publication, and ``.source_url``)."""

from __future__ import annotations

import openpyxl
import psycopg
import pyarrow.parquet as pq
import pytest

from exports.reports import REPORTS
from exports.run import export_reports
from tests.exports.helpers import read_csv_rows

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.slow
def test_real_publication_exports_neutralised(pipeline, tmp_path):
    # --out keeps the shared session home (other suites read it) untouched.
    result = export_reports(pipeline.settings, out_dir=tmp_path / "e2e")
    assert {f.report for f in result.files} == {r.name for r in REPORTS}

    with psycopg.connect(pipeline.source_url) as conn:
        cities = {r[0] for r in conn.execute("select distinct city from user_addresses")}
    hostile = {c for c in cities if c and c.startswith(DANGEROUS)}
    segments = set(
        pq.read_table(result.folder / "customer_demographics.parquet")["segment"].to_pylist()
    )
    published_hostile = hostile & segments
    assert published_hostile, "the seeded source should publish at least one hostile city"

    csv_values = {
        v for row in read_csv_rows(result.folder / "customer_demographics.csv") for v in row
    }
    ws = openpyxl.load_workbook(result.folder / "customer_demographics.xlsx").active
    xlsx_values = {v for row in ws.iter_rows(values_only=True) for v in row}
    for city in published_hostile:
        assert "'" + city in csv_values and city not in csv_values, repr(city)
        assert "'" + city in xlsx_values and city not in xlsx_values, repr(city)

    # No text cell of any CSV starts with a formula character.
    for path in result.folder.glob("*.csv"):
        for row in read_csv_rows(path)[1:]:
            for value in row:
                if value.startswith(DANGEROUS):
                    # Only numbers may start with '-' (negative values are never touched).
                    float(value)
