"""Spreadsheet-formula neutralisation of text cells (CSV and XLSX only).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be run
as a formula when a CSV or XLSX file is opened in a spreadsheet (CSV/formula injection), and so
can one where such a formula character follows leading whitespace (``"\n=1+1"``,
``"  @SUM(A1)"``): spreadsheets trim it on import. Following OWASP's guidance such a cell gets a
single quote ``'`` in front, which every spreadsheet shows as text. Only string columns are
touched: numbers (including negative ones) and dates keep their type and value. Parquet files
are for programs and keep the exact published text.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

FORMULA_CHARACTERS: tuple[str, ...] = ("=", "+", "-", "@")
DANGEROUS_FIRST_CHARACTERS: tuple[str, ...] = (*FORMULA_CHARACTERS, "\t", "\r")
# Whitespace a spreadsheet may skip before reading a formula: ASCII whitespace and no-break space.
LEADING_WHITESPACE: tuple[str, ...] = (" ", "\t", "\n", "\x0b", "\x0c", "\r", "\xa0")


def _char_class(chars: tuple[str, ...]) -> str:
    # \xhh escapes mean the same to Python's re and to RE2 (pyarrow.compute).
    return "[" + "".join(f"\\x{ord(c):02x}" for c in chars) + "]"


# Dangerous first character, or formula character after leading whitespace.
_PATTERN = (
    f"^(?:{_char_class(DANGEROUS_FIRST_CHARACTERS)}"
    f"|{_char_class(LEADING_WHITESPACE)}+{_char_class(FORMULA_CHARACTERS)})"
)
_DANGEROUS = re.compile(_PATTERN)


def is_text(data_type: pa.DataType) -> bool:
    return (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def neutralize_value(value: str) -> str:
    """The safe form of one text value (for writers that go cell by cell)."""
    return "'" + value if _DANGEROUS.match(value) else value


def neutralize_table(table: pa.Table) -> pa.Table:
    """A copy of ``table`` with every dangerous text cell prefixed by ``'``."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        if is_text(field.type):
            column = column.cast(pa.string())
            dangerous = pc.match_substring_regex(column, _PATTERN)
            quoted = pc.binary_join_element_wise(pa.scalar("'"), column, pa.scalar(""))
            column = pc.if_else(dangerous, quoted, column)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=_text_as_string(table.schema))


def _text_as_string(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [pa.field(f.name, pa.string(), f.nullable) if is_text(f.type) else f for f in schema]
    )
