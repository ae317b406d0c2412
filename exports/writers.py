"""File writers: one report's rows to CSV, Parquet or XLSX, deterministically.

- CSV: UTF-8 without BOM, header row, RFC 4180 quoting and CRLF line ends (``pyarrow.csv``, which
  quotes every text value and doubles embedded quotes), ISO 8601 dates, ``.`` decimal separator,
  NULL as an empty unquoted field, no index column. Text cells are neutralised (``safety``).
- Parquet: zstd, the published Arrow types unchanged (DECIMAL stays decimal, DATE stays date),
  fixed writer options and no timestamps, so the same rows always give the same bytes.
- XLSX (openpyxl, write-only): one sheet named after the report, typed cells (numbers, dates,
  booleans), a bold filled header row that stays frozen, an auto-filter, column widths from the
  content. Text cells are neutralised, characters XML cannot hold become U+FFFD, carriage
  returns are stored as ``&#13;`` so they are not read back as line feeds. The zip
  entries get a fixed time and the document properties the publication time, so XLSX files are
  reproducible too.

``run.py`` looks writers up by name on this module (``write_<format>``) at call time.
"""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from exports.errors import ExportError
from exports.published import ReportData
from exports.safety import is_text, neutralize_table
from petpro.durability import fsync_file

XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header included
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")


# ---- CSV ------------------------------------------------------------------------------
def write_csv(data: ReportData, path: Path, *, stamp: datetime) -> None:
    table = neutralize_table(data.table)
    options = pa_csv.WriteOptions(include_header=True, delimiter=",", eol="\r\n")
    with path.open("wb") as fh:
        pa_csv.write_csv(table, fh, options)
        fh.flush()
        os.fsync(fh.fileno())


# ---- Parquet --------------------------------------------------------------------------
def write_parquet(data: ReportData, path: Path, *, stamp: datetime) -> None:
    pq.write_table(
        data.table.combine_chunks(),
        path,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        row_group_size=1_000_000,
        version="2.6",
        data_page_version="1.0",
        store_schema=True,
    )
    fsync_file(path)


# ---- XLSX -----------------------------------------------------------------------------
def _decimal_format(data_type: pa.DataType) -> str | None:
    if pa.types.is_decimal(data_type):
        scale = data_type.scale  # type: ignore[attr-defined]
        return "#,##0" + ("." + "0" * scale if scale > 0 else "")
    return None


def _clean_text(value: str) -> str:
    # openpyxl refuses control characters XML 1.0 cannot carry; keep the rest of the text.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)


def _column_widths(table: pa.Table, sample: int = 2000) -> list[float]:
    widths = []
    head = table.slice(0, sample)
    for field, column in zip(head.schema, head.columns, strict=True):
        longest = len(field.name)
        if pa.types.is_date(field.type):
            longest = max(longest, 10)
        for value in column.to_pylist():
            if value is not None:
                longest = max(longest, len(str(value)))
        widths.append(float(min(max(longest + 2, 8), 60)))
    return widths


def write_xlsx(data: ReportData, path: Path, *, stamp: datetime) -> None:
    table = neutralize_table(data.table)
    if table.num_rows + 1 > XLSX_MAX_ROWS:
        raise ExportError(
            f"{data.report.name} has {table.num_rows:,} rows, more than an XLSX sheet holds: "
            "export it as csv or parquet (--format csv) or narrow it with --from/--to"
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=data.report.name[:31])
    for index, width in enumerate(_column_widths(table), start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    if table.num_columns:
        last = get_column_letter(table.num_columns)
        ws.auto_filter.ref = f"A1:{last}{table.num_rows + 1}"

    header = []
    for name in table.column_names:
        cell = WriteOnlyCell(ws, value=_clean_text(name))
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        header.append(cell)
    ws.append(header)

    formats = [_decimal_format(f.type) for f in table.schema]
    text = [is_text(f.type) for f in table.schema]
    for batch in table.to_batches(max_chunksize=10_000):
        columns = [c.to_pylist() for c in batch.columns]
        for values in zip(*columns, strict=True):
            row: list[object] = []
            for value, fmt, is_str in zip(values, formats, text, strict=True):
                if value is None:
                    row.append(None)
                elif is_str:
                    # Forced to a string cell: openpyxl would otherwise type text such as
                    # '#N/A' as an error value (and '=…' as a formula, though neutralised
                    # text never starts with '=').
                    cell = WriteOnlyCell(ws, value=_clean_text(value))
                    cell.data_type = "s"
                    row.append(cell)
                elif fmt is not None:
                    cell = WriteOnlyCell(ws, value=value)
                    cell.number_format = fmt
                    row.append(cell)
                else:
                    row.append(value)
            ws.append(row)

    # Reproducible bytes: fixed document times, fixed zip entry times and order.
    naive = stamp.replace(tzinfo=None, microsecond=0)
    wb.properties.created = naive
    wb.properties.modified = naive
    buffer = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    buffer.seek(0)
    with (
        zipfile.ZipFile(buffer) as src,
        path.open("wb") as fh,
        zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as dst,
    ):
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            payload = src.read(info.filename)
            if info.filename.endswith(".xml"):
                # XML parsers turn a raw CR into LF; a character reference survives, so a
                # cell's carriage return reads back as written. openpyxl emits no CR itself.
                payload = payload.replace(b"\r", b"&#13;")
            dst.writestr(entry, payload)
    fsync_file(path)
