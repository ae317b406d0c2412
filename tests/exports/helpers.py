"""Oracles shared by the export tests: the published marts read straight from DuckDB, and the
neutralisation rule written out independently of ``exports.safety``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from tests.exports.publication import GRAIN


def published_mart(published_db: Path, mart: str, where: str = "") -> pa.Table:
    """The mart as published, ordered by its grain (the order the files must have)."""
    order = ", ".join(f'"{c}" nulls last' for c in GRAIN[mart])
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        return con.sql(f"select * from {mart} {where} order by {order}").to_arrow_table()
    finally:
        con.close()


def safe(value: Any) -> Any:
    """What a text cell must look like in CSV/XLSX (OWASP: leading quote before =+-@ TAB CR,
    and before =+-@ that follow leading whitespace, which spreadsheets skip)."""
    if not isinstance(value, str):
        return value
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if value.lstrip(" \t\n\v\f\r\xa0")[:1] in ("=", "+", "-", "@") and value[:1].isspace():
        return "'" + value
    return value


def read_csv_rows(path: Path) -> list[list[str]]:
    """Parse a CSV file with Python's csv module (an independent RFC 4180 reader)."""
    text = path.read_bytes().decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))
