"""Oracles of the stakeholder-PDF tests: the PDF's text through poppler, the expected figures
straight from the published DuckDB file.

Nothing here imports the report code: the periods, the comparison periods, the labels, the
KPI values, the changes and the largest movers are computed again from the marts by plain SQL
and arithmetic, and the printed text is parsed back with the documented formats (counts with
thousands separators, rates as percent with one decimal, money as ``CODE 1,234.56``, changes
as ``+5.2%`` or ``+1.3 pp``, ``n/a`` for a missing value).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FULL = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip


# ---- the PDF's text ------------------------------------------------------------------------
def pages(pdf: Path) -> list[str]:
    """The text of every page in content-stream order (``pdftotext -raw``)."""
    out = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split("\f")[:-1] if out.endswith("\f") else out.split("\f")


def page_with(texts: list[str], heading: str) -> str:
    found = [t for t in texts if heading in t.splitlines()]
    assert len(found) == 1, f"one page headed {heading!r} expected, found {len(found)}"
    return found[0]


def parse_count(text: str) -> int | None:
    if text == "n/a":
        return None
    assert re.fullmatch(r"-?\d{1,3}(,\d{3})*", text), text
    return int(text.replace(",", ""))


def parse_rate(text: str) -> float | None:
    if text == "n/a":
        return None
    assert re.fullmatch(r"-?\d+\.\d%", text), text
    return float(text[:-1]) / 100


def parse_money(text: str) -> tuple[str, Decimal] | None:
    if text == "n/a":
        return None
    match = re.fullmatch(r"([A-Z]{3}) (-?\d{1,3}(?:,\d{3})*\.\d\d)", text)
    assert match, text
    return match.group(1), Decimal(match.group(2).replace(",", ""))


def parse_change(text: str) -> tuple[float, str] | None:
    """``+5.2%`` → (5.2, '%'); ``-1.3 pp`` → (-1.3, 'pp'); ``n/a`` → None."""
    if text == "n/a":
        return None
    match = re.fullmatch(r"([+-]\d+\.\d)(%| pp)", text)
    assert match, text
    return float(match.group(1)), match.group(2).strip()


# ---- periods and labels, computed independently ---------------------------------------------
def month_label(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}"


def week_label(d: date) -> str:
    year, week, _ = d.isocalendar()
    return f"Week {week}, {year}"


def month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def prev_month(d: date) -> date:
    return (d.replace(day=1) - timedelta(days=1)).replace(day=1)


@dataclass(frozen=True)
class Edition:
    grain: str
    start: date
    end: date
    month: date  # first day of the month of the monthly-only tiles

    def label(self, start: date | None = None) -> str:
        start = start or self.start
        return month_label(start) if self.grain == "month" else week_label(start)

    def previous(self) -> date:
        return prev_month(self.start) if self.grain == "month" else self.start - timedelta(7)

    def year_earlier(self) -> date:
        if self.grain == "month":
            return self.start.replace(year=self.start.year - 1)
        return self.start - timedelta(days=364)

    def long_label(self) -> str:
        s, e = self.start, self.end
        days = f"{s.day} {MONTHS[s.month - 1]} – {e.day} {MONTHS[e.month - 1]} {e.year}"
        head = f"{FULL[s.month - 1]} {s.year}" if self.grain == "month" else week_label(s)
        return f"{head} ({days})"


def edition_as_of(grain: str, as_of: date) -> Edition:
    """The last month / ISO week whose last day is on or before ``as_of``."""
    last_month = as_of.replace(day=1)
    if month_end(last_month) > as_of:
        last_month = prev_month(last_month)
    if grain == "month":
        return Edition("month", last_month, month_end(last_month), last_month)
    sunday = as_of - timedelta(days=(as_of.weekday() + 1) % 7)
    start = sunday - timedelta(days=6)
    month = sunday.replace(day=1)
    if month_end(month) > sunday:
        month = prev_month(month)
    return Edition("week", start, sunday, month)


# ---- expected figures from the marts ---------------------------------------------------------
@dataclass(frozen=True)
class Tile:
    title: str
    unit: str  # count | rate | money
    period: str
    value: Any
    comparisons: tuple[tuple[str, Any], tuple[str, Any]]  # (label, value)


def relative(cur: Any, base: Any) -> float | None:
    if cur is None or base is None or float(base) == 0:
        return None
    return (float(cur) - float(base)) / abs(float(base)) * 100


def points(cur: Any, base: Any) -> float | None:
    if cur is None or base is None:
        return None
    return (float(cur) - float(base)) * 100


class Marts:
    """Read-only access to one published DuckDB file."""

    def __init__(self, db: Path) -> None:
        self.con = duckdb.connect(str(db), read_only=True)

    def close(self) -> None:
        self.con.close()

    def value(self, sql: str, *params: Any) -> Any:
        row = self.con.execute(sql, list(params)).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, *params: Any) -> list[tuple]:
        return self.con.execute(sql, list(params)).fetchall()

    def covered(self, grain: str, start: date) -> bool:
        return bool(
            self.value(
                "select count(*) from mart_customer_growth where interval = ? and period_start = ?",
                grain,
                start,
            )
        )

    def has(self, table: str) -> bool:
        return bool(
            self.value("select count(*) from information_schema.tables where table_name = ?", table)
        )

    # -- the KPI tiles ---------------------------------------------------------------------
    def tiles(self, e: Edition) -> list[Tile]:
        g = e.grain

        def growth(col: str, start: date) -> Any:
            return self.value(
                f"select {col} from mart_customer_growth where interval = ? and period_start = ?",
                g,
                start,
            )

        def bookings(start: date) -> Any:
            if not self.covered(g, start):
                return None
            if g == "month":
                v = self.value(
                    "select sum(bookings) from mart_service_usage where month = ?", start
                )
            else:
                v = self.value(
                    "select sum(events) from mart_customer_activity where interval = 'week' "
                    "and period_start = ? and activity_type = 'booking_created'",
                    start,
                )
            return 0 if v is None else v

        periods = [e.start, e.previous(), e.year_earlier()]
        labels = [e.label(p) for p in periods]

        def tile(title: str, unit: str, values: list[Any], lbls: list[str]) -> Tile:
            return Tile(
                title, unit, lbls[0], values[0], ((lbls[1], values[1]), (lbls[2], values[2]))
            )

        out = [
            tile("New customers", "count", [growth("new_customers", p) for p in periods], labels),
            tile(
                "Active customers",
                "count",
                [growth("active_customers", p) for p in periods],
                labels,
            ),
            tile(
                "Bookings" if g == "month" else "Bookings created",
                "count",
                [bookings(p) for p in periods],
                labels,
            ),
        ]
        m = e.month
        months = [m, prev_month(m), m.replace(year=m.year - 1)]
        mlabels = [month_label(x) for x in months]
        for (currency,) in self.rows(
            "select distinct currency from mart_service_usage where month = ? order by 1", m
        ):
            values = []
            for x in months:
                if not self.covered("month", x):
                    values.append(None)
                    continue
                v = self.value(
                    "select sum(net_revenue) from mart_service_usage "
                    "where month = ? and currency = ?",
                    x,
                    currency,
                )
                values.append((currency, Decimal("0.00") if v is None else v))
            out.append(tile(f"Net revenue ({currency})", "money", values, mlabels))

        def monthly(mart: str, col: str, anchor: date, label: Any) -> Tile:
            latest = self.value(f"select max(month) from {mart} where month <= ?", anchor) or anchor
            ms = [latest, prev_month(latest), latest.replace(year=latest.year - 1)]
            vals = [self.value(f"select {col} from {mart} where month = ?", x) for x in ms]
            return [vals, [label(x) for x in ms]]

        vals, lbls = monthly("mart_repeat_customers", "repeat_rate", m, month_label)
        out.append(tile("Repeat rate", "rate", vals, lbls))

        def pair(x: date) -> str:
            nxt = month_end(x) + timedelta(days=1)
            if nxt.year == x.year:
                return f"{MONTHS[x.month - 1]} → {month_label(nxt)}"
            return f"{month_label(x)} → {month_label(nxt)}"

        vals, lbls = monthly("mart_retention_monthly", "retention_rate", prev_month(m), pair)
        out.append(tile("Retention", "rate", vals, lbls))
        return out

    # -- largest movers -------------------------------------------------------------------
    def movers(self, e: Edition, min_base: int = 10, top: int = 10) -> list[tuple]:
        g, cur, prev = e.grain, e.start, e.previous()
        if not (self.covered(g, cur) and self.covered(g, prev)):
            return []
        tiles = {t.title: t for t in self.tiles(e)}
        cands: list[tuple[str, Any, Any, str | None]] = []
        for title in ("New customers", "Active customers", "Bookings", "Bookings created"):
            if title in tiles:
                t = tiles[title]
                cands.append((title, t.comparisons[0][1], t.value, None))

        def both(sql: str, *params: Any) -> dict[tuple, list[Any]]:
            out: dict[tuple, list[Any]] = {}
            for i, start in enumerate((prev, cur)):
                for *key, v in self.rows(sql, *params, start):
                    out.setdefault(tuple(key), [0, 0])[i] = v
            return out

        for (t,), (b, n) in both(
            "select activity_type, active_customers from mart_customer_activity "
            "where interval = ? and period_start = ?",
            g,
        ).items():
            cands.append((f"Active customers · {t.replace('_', ' ')}", b, n, None))
        for (s,), (b, n) in both(
            "select status, customers from mart_customer_lifecycle "
            "where interval = ? and period_start = ?",
            g,
        ).items():
            cands.append((f"Lifecycle · {s}", b, n, None))
        if g == "month":
            for col, title in (("bookings", "Bookings"), ("net_revenue", "Net revenue")):
                for (cat, ccy), (b, n) in both(
                    f"select service_category, currency, sum({col}) from mart_service_usage "
                    "where month = ? group by 1, 2"
                ).items():
                    money = col == "net_revenue"
                    cands.append(
                        (f"{title} · {cat} ({ccy})", b or 0, n or 0, ccy if money else None)
                    )
        ranked = []
        for label, b, n, ccy in cands:
            if b is None or n is None or abs(float(b)) < min_base:
                continue
            ranked.append((label, b, n, ccy, relative(n, b)))
        ranked.sort(key=lambda r: (-abs(r[4]), r[0]))
        return ranked[:top]
