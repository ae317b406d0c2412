"""Everything the stakeholder report prints or draws, read from the published marts only.

:func:`read_stakeholder_data` takes the open publication and an edition's period and returns a
:class:`StakeholderData`: the KPI tiles with their previous-period and year-earlier values, the
series behind each chart, the largest movers, and — when the publication holds the insights
marts — the period's anomalies and trends. Nothing is re-derived here beyond what a reader needs
to compare two mart values (a sum over service categories, a relative change); every printed
figure is a mart value or such a comparison of two.

Rules the figures follow (the appendix of the PDF states them for the reader):

- A period inside the published data but without a row in a mart that only has rows where
  something happened (activity types, service usage) counts 0; a period before the data
  began (no row in ``mart_customer_growth``) is unknown, printed ``n/a``.
- Monthly-only metrics (net revenue, repeat rate, retention) in the weekly edition refer to the
  last complete month up to the week's end, and say so on their tile.
- Retention is the latest month up to the month before the edition's month: the share of the
  customers engaged in month M who were engaged again in M+1.
- Largest movers: series of this period vs the previous one whose previous value is at least
  ``MOVER_MIN_BASE``, ranked by the size of the relative change (ties by name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from exports import number_format as nf
from exports.periods import Period, last_complete
from exports.published import PublishedWarehouse
from petpro.publication import quote_ident

ANOMALY_MART = "mart_metric_anomalies"
TREND_MART = "mart_metric_trends"
MOVER_MIN_BASE = 10
MOVER_COUNT = 10
INSIGHT_ROWS = 10
GROWTH_WINDOW = {"month": 24, "week": 26}
ACTIVES_DAYS = {"month": 180, "week": 91}
LIFECYCLE_WINDOW = 12
COHORT_MONTHS = 12
NO_CURRENCY = "XXX"  # ISO 4217's code for "no currency"


@dataclass(frozen=True)
class Comparison:
    """The value of a comparison period and the change of the current value against it."""

    period_label: str
    value: Any
    change: float | None  # relative change (counts, money) or percentage points (rates)


@dataclass(frozen=True)
class Kpi:
    """One KPI tile."""

    key: str
    title: str
    unit: str  # "count" | "rate" | "money"
    currency: str | None
    period_label: str
    value: Any
    previous: Comparison
    year_earlier: Comparison
    source: str

    def show(self, value: Any) -> str:
        if self.unit == "rate":
            return nf.rate(value)
        if self.unit == "money":
            return nf.money(value, self.currency)
        return nf.count(value)

    def show_change(self, change: float | None) -> str:
        return nf.signed_points(change) if self.unit == "rate" else nf.signed_percent(change)


@dataclass(frozen=True)
class Mover:
    """One series of the largest-movers table."""

    label: str
    unit: str  # "count" | "money"
    currency: str | None
    previous: Any
    current: Any
    change: float

    def show(self, value: Any) -> str:
        return nf.money(value, self.currency) if self.unit == "money" else nf.count(value)


@dataclass(frozen=True)
class Anomaly:
    day: date
    metric: str
    observed: Any
    expected: Any
    lower: Any
    upper: Any
    score: Any
    direction: str | None
    method: str | None


@dataclass(frozen=True)
class Trend:
    metric: str
    value: Any
    change_previous: Any
    change_year: Any
    slope: Any
    p_value: Any
    label: str | None


@dataclass(frozen=True)
class Insights:
    """The rows of one insights mart for the period (``present=False``: mart not published)."""

    present: bool
    anomalies: list[Anomaly] = field(default_factory=list)
    anomaly_total: int = 0
    trends: list[Trend] = field(default_factory=list)


@dataclass(frozen=True)
class Charts:
    """The series behind each chart."""

    growth: list[tuple[date, int, int]]  # period_start, new, cumulative
    actives: list[tuple[date, int, int, int]]  # day, dau, wau, mau
    activity_by_type: list[tuple[str, int, int]]  # type, current, previous active customers
    revenue: dict[str, list[tuple[str, Decimal, Decimal]]]  # currency -> category, cur, prev
    cohorts: list[tuple[date, int, float | None]]  # cohort_month, k, retention_rate
    lifecycle: list[tuple[date, str, int]]  # period_start, status, customers


@dataclass(frozen=True)
class StakeholderData:
    edition: str
    period: Period
    month: Period  # the month of the monthly-only metrics
    timezone: str
    run_id: str
    published_at: datetime
    high_water_mark: datetime | None
    kpis: list[Kpi]
    movers: list[Mover]
    charts: Charts
    anomalies: Insights
    trends: Insights
    sources: tuple[str, ...]


# ---- reading -----------------------------------------------------------------------------
class _Reader:
    def __init__(self, wh: PublishedWarehouse) -> None:
        self.wh = wh
        self.covered = {
            (r[0], r[1])
            for r in wh.rows(
                "select interval, period_start from mart_customer_growth "
                "where interval in ('week', 'month')"
            )
        }

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.wh.rows(sql, params)

    def one(self, sql: str, params: list[Any]) -> tuple[Any, ...] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def is_covered(self, period: Period) -> bool:
        return (period.grain, period.start) in self.covered

    def has_table(self, name: str) -> bool:
        return bool(
            self.rows(
                "select count(*) from information_schema.tables "
                "where table_schema = 'main' and table_name = ?",
                [name],
            )[0][0]
        )

    def columns(self, table: str) -> dict[str, str]:
        return {
            r[0]: str(r[1]).upper()
            for r in self.rows(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'main' and table_name = ? order by ordinal_position",
                [table],
            )
        }

    # -- single figures ---------------------------------------------------------------
    def growth(self, period: Period, column: str) -> Any:
        row = self.one(
            f"select {column} from mart_customer_growth where interval = ? and period_start = ?",
            [period.grain, period.start],
        )
        return None if row is None else row[0]

    def bookings(self, period: Period) -> Any:
        if not self.is_covered(period):
            return None
        if period.grain == "month":
            row = self.one(
                "select coalesce(sum(bookings), 0) from mart_service_usage where month = ?",
                [period.start],
            )
        else:
            row = self.one(
                "select coalesce(sum(events), 0) from mart_customer_activity where interval = "
                "'week' and period_start = ? and activity_type = 'booking_created'",
                [period.start],
            )
        return row[0] if row else 0

    def net_revenue(self, month: Period, currency: str | None) -> Any:
        if not self.is_covered(month):
            return None
        row = self.one(
            "select coalesce(sum(net_revenue), 0) from mart_service_usage "
            "where month = ? and currency is not distinct from ?",
            [month.start, currency],
        )
        return row[0] if row else Decimal("0.00")

    def currencies(self, month: Period) -> list[str | None]:
        return [
            r[0]
            for r in self.rows(
                "select distinct currency from mart_service_usage where month = ? "
                "order by currency asc nulls last",
                [month.start],
            )
        ]

    def monthly_rate(self, mart: str, column: str, month: date) -> Any:
        row = self.one(f"select {column} from {mart} where month = ?", [month])
        return None if row is None else row[0]

    def latest_month(self, mart: str, up_to: date) -> date | None:
        row = self.one(f"select max(month) from {mart} where month <= ?", [up_to])
        return None if row is None else row[0]


def _kpi(
    key: str,
    title: str,
    unit: str,
    period: Period,
    value_of: Any,
    source: str,
    *,
    currency: str | None = None,
    label_of: Any = None,
) -> Kpi:
    label_of = label_of or (lambda p: p.label)
    change = nf.point_change if unit == "rate" else nf.relative_change
    current = value_of(period)
    comparisons = []
    for other in (period.previous(), period.year_earlier()):
        value = value_of(other)
        comparisons.append(Comparison(label_of(other), value, change(current, value)))
    return Kpi(
        key=key,
        title=title,
        unit=unit,
        currency=currency,
        period_label=label_of(period),
        value=current,
        previous=comparisons[0],
        year_earlier=comparisons[1],
        source=source,
    )


def _retention_label(month: Period) -> str:
    nxt = month.shifted(1)
    first = month.label.split(" ")[0]
    if month.start.year == nxt.start.year:
        return f"{first} → {nxt.label}"
    return f"{month.label} → {nxt.label}"


def _kpis(r: _Reader, period: Period, month: Period) -> list[Kpi]:
    kpis = [
        _kpi(
            "new_customers",
            "New customers",
            "count",
            period,
            lambda p: r.growth(p, "new_customers"),
            "mart_customer_growth.new_customers",
        ),
        _kpi(
            "active_customers",
            "Active customers",
            "count",
            period,
            lambda p: r.growth(p, "active_customers"),
            "mart_customer_growth.active_customers",
        ),
        _kpi(
            "bookings",
            "Bookings" if period.grain == "month" else "Bookings created",
            "count",
            period,
            r.bookings,
            "mart_service_usage.bookings"
            if period.grain == "month"
            else "mart_customer_activity.events (booking_created)",
        ),
    ]
    for currency in r.currencies(month):
        kpis.append(
            _kpi(
                f"net_revenue:{currency or NO_CURRENCY}",
                "Net revenue",
                "money",
                month,
                lambda p, c=currency: r.net_revenue(p, c),
                "mart_service_usage.net_revenue",
                currency=currency or NO_CURRENCY,
            )
        )
    repeat_month = r.latest_month("mart_repeat_customers", month.start)
    kpis.append(
        _kpi(
            "repeat_rate",
            "Repeat rate",
            "rate",
            Period("month", repeat_month or month.start),
            lambda p: r.monthly_rate("mart_repeat_customers", "repeat_rate", p.start),
            "mart_repeat_customers.repeat_rate",
        )
    )
    retention_month = r.latest_month("mart_retention_monthly", month.previous().start)
    kpis.append(
        _kpi(
            "retention",
            "Retention",
            "rate",
            Period("month", retention_month or month.previous().start),
            lambda p: r.monthly_rate("mart_retention_monthly", "retention_rate", p.start),
            "mart_retention_monthly.retention_rate",
            label_of=_retention_label,
        )
    )
    return kpis


def _series(r: _Reader, sql: str, params: list[Any], covered: bool) -> dict[tuple, Any]:
    return {tuple(row[:-1]): row[-1] for row in r.rows(sql, params)} if covered else {}


def _movers(r: _Reader, period: Period, kpis: list[Kpi]) -> list[Mover]:
    prev = period.previous()
    if not (r.is_covered(period) and r.is_covered(prev)):
        return []
    candidates: list[tuple[str, str, str | None, Any, Any]] = []
    for kpi in kpis:
        if kpi.key in ("new_customers", "active_customers", "bookings"):
            candidates.append((kpi.title, "count", None, kpi.previous.value, kpi.value))

    def pairs(sql: str, grain_param: list[Any]) -> dict[tuple, tuple[Any, Any]]:
        now = _series(r, sql, [*grain_param, period.start], True)
        before = _series(r, sql, [*grain_param, prev.start], True)
        return {k: (before.get(k, 0), now.get(k, 0)) for k in sorted(set(now) | set(before))}

    for (activity_type,), (before, now) in pairs(
        "select activity_type, active_customers from mart_customer_activity "
        "where interval = ? and period_start = ?",
        [period.grain],
    ).items():
        label = f"Active customers · {activity_type.replace('_', ' ')}"
        candidates.append((label, "count", None, before, now))
    for (status,), (before, now) in pairs(
        "select status, customers from mart_customer_lifecycle "
        "where interval = ? and period_start = ?",
        [period.grain],
    ).items():
        candidates.append((f"Lifecycle · {status}", "count", None, before, now))
    if period.grain == "month":
        for measure, unit, zero in (("bookings", "count", 0), ("net_revenue", "money", None)):
            sql = (
                f"select service_category, currency, coalesce(sum({measure}), 0) "
                "from mart_service_usage where month = ? group by all"
            )
            now = _series(r, sql, [period.start], True)
            before = _series(r, sql, [prev.start], True)
            for key in sorted(set(now) | set(before), key=lambda k: (k[0], k[1] or "")):
                category, currency = key
                default = 0 if zero is not None else Decimal("0.00")
                title = "Bookings" if measure == "bookings" else "Net revenue"
                code = currency or NO_CURRENCY
                candidates.append(
                    (
                        f"{title} · {category} ({code})",
                        unit,
                        code if unit == "money" else None,
                        before.get(key, default),
                        now.get(key, default),
                    )
                )
    movers = []
    for label, unit, currency, before, now in candidates:
        if before is None or now is None or abs(float(before)) < MOVER_MIN_BASE:
            continue
        change = nf.relative_change(now, before)
        if change is None:
            continue
        movers.append(Mover(label, unit, currency, before, now, change))
    movers.sort(key=lambda m: (-abs(m.change), m.label))
    return movers[:MOVER_COUNT]


def _charts(r: _Reader, period: Period, month: Period) -> Charts:
    grain = period.grain
    first = period.shifted(-(GROWTH_WINDOW[grain] - 1)).start
    growth = [
        (row[0], int(row[1]), int(row[2]))
        for row in r.rows(
            "select period_start, new_customers, cumulative_customers from mart_customer_growth "
            "where interval = ? and period_start between ? and ? order by period_start",
            [grain, first, period.start],
        )
    ]
    actives = [
        (row[0], int(row[1]), int(row[2]), int(row[3]))
        for row in r.rows(
            "select activity_date, dau, wau, mau from mart_active_users "
            "where activity_date between ? and ? order by activity_date",
            [period.end - timedelta(days=ACTIVES_DAYS[grain] - 1), period.end],
        )
    ]
    by_type: dict[str, list[int]] = {}
    for activity_type, start, active in r.rows(
        "select activity_type, period_start, active_customers from mart_customer_activity "
        "where interval = ? and period_start in (?, ?)",
        [grain, period.start, period.previous().start],
    ):
        slot = by_type.setdefault(activity_type, [0, 0])
        slot[0 if start == period.start else 1] = int(active)
    activity = sorted(
        ((t, cur, prev) for t, (cur, prev) in by_type.items()), key=lambda x: (-x[1], x[0])
    )
    revenue: dict[str, list[tuple[str, Decimal, Decimal]]] = {}
    per_key: dict[tuple[str, str], list[Decimal]] = {}
    for category, currency, start, amount in r.rows(
        "select service_category, currency, month, coalesce(sum(net_revenue), 0) "
        "from mart_service_usage where month in (?, ?) group by all",
        [month.start, month.previous().start],
    ):
        slot = per_key.setdefault(
            (currency or NO_CURRENCY, category), [Decimal("0.00"), Decimal("0.00")]
        )
        slot[0 if start == month.start else 1] = amount
    for (currency, category), (cur, prev) in sorted(per_key.items()):
        revenue.setdefault(currency, []).append((category, cur, prev))
    cohorts = [
        (row[0], int(row[1]), None if row[2] is None else float(row[2]))
        for row in r.rows(
            "select cohort_month, months_since_signup, retention_rate from mart_cohort_retention "
            "where cohort_month between ? and ? and months_since_signup < ? "
            "order by cohort_month, months_since_signup",
            [month.shifted(-(COHORT_MONTHS - 1)).start, month.start, COHORT_MONTHS],
        )
    ]
    lifecycle = [
        (row[0], row[1], int(row[2]))
        for row in r.rows(
            "select period_start, status, customers from mart_customer_lifecycle "
            "where interval = ? and period_start between ? and ? order by period_start, status",
            [grain, period.shifted(-(LIFECYCLE_WINDOW - 1)).start, period.start],
        )
    ]
    return Charts(growth, actives, activity, revenue, cohorts, lifecycle)


# ---- the insights marts (optional) ----------------------------------------------------------
def _pick(columns: dict[str, str], *names: str) -> str | None:
    for name in names:
        if name in columns:
            return name
    return None


def _anomalies(r: _Reader, period: Period) -> Insights:
    if not r.has_table(ANOMALY_MART):
        return Insights(present=False)
    cols = r.columns(ANOMALY_MART)
    day = _pick(cols, "date", "metric_date", "period_start", "day", "activity_date") or next(
        (c for c, t in cols.items() if t == "DATE"), None
    )
    if day is None or "metric" not in cols or "is_anomaly" not in cols:
        return Insights(present=True)

    def col(name: str) -> str:
        return quote_ident(name) if name in cols else "null"

    where = f"{quote_ident(day)} between ? and ? and is_anomaly"
    total = r.rows(f"select count(*) from {ANOMALY_MART} where {where}", [period.start, period.end])
    rows = r.rows(
        f"select {quote_ident(day)}, metric, {col('observed')}, {col('expected')}, "
        f"{col('lower')}, {col('upper')}, {col('score')}, {col('direction')}, {col('method')} "
        f"from {ANOMALY_MART} where {where} "
        f"order by abs({col('score')}) desc nulls last, {quote_ident(day)}, metric limit ?",
        [period.start, period.end, INSIGHT_ROWS],
    )
    return Insights(
        present=True,
        anomalies=[Anomaly(*row) for row in rows],
        anomaly_total=int(total[0][0]),
    )


def _trends(r: _Reader, period: Period) -> Insights:
    if not r.has_table(TREND_MART):
        return Insights(present=False)
    cols = r.columns(TREND_MART)
    when = _pick(cols, "period_start", "period", "month", "date")
    if when is None or "metric" not in cols:
        return Insights(present=True)
    grain_col = _pick(cols, "interval", "grain", "period_type")

    def col(*names: str) -> str:
        found = _pick(cols, *names)
        return quote_ident(found) if found else "null"

    where = f"{quote_ident(when)} = ?"
    params: list[Any] = [period.start]
    if grain_col:
        where += f" and lower({quote_ident(grain_col)}) in (?, ?)"
        params += [period.grain, "monthly" if period.grain == "month" else "weekly"]
    rows = r.rows(
        f"select metric, {col('value')}, "
        f"{col('change_vs_previous', 'change_previous', 'pct_change_previous', 'change_prev')}, "
        f"{col('change_vs_year_earlier', 'change_vs_year_ago', 'change_yoy', 'yoy_change')}, "
        f"{col('slope')}, {col('p_value', 'pvalue')}, {col('label', 'trend', 'direction')} "
        f"from {TREND_MART} where {where} order by metric",
        params,
    )
    return Insights(present=True, trends=[Trend(*row) for row in rows])


# ---- entry point ----------------------------------------------------------------------------
SOURCES: tuple[str, ...] = (
    "mart_customer_growth",
    "mart_customer_activity",
    "mart_active_users",
    "mart_customer_lifecycle",
    "mart_service_usage",
    "mart_cohort_retention",
    "mart_retention_monthly",
    "mart_repeat_customers",
)


def edition_period(edition_grain: str, as_of: date) -> tuple[Period, Period]:
    """The edition's period and the month of its monthly-only metrics, as of a date."""
    period = last_complete(edition_grain, as_of)
    month = period if edition_grain == "month" else last_complete("month", period.end)
    return period, month


def read_stakeholder_data(
    wh: PublishedWarehouse, edition: str, grain: str, as_of: date, timezone: str
) -> StakeholderData:
    """Read one edition's figures as of ``as_of`` (see the module docstring for the rules)."""
    period, month = edition_period(grain, as_of)
    r = _Reader(wh)
    kpis = _kpis(r, period, month)
    anomalies = _anomalies(r, period)
    trends = _trends(r, period)
    sources = list(SOURCES)
    sources += [m for m, ins in ((ANOMALY_MART, anomalies), (TREND_MART, trends)) if ins.present]
    publication = wh.publication
    return StakeholderData(
        edition=edition,
        period=period,
        month=month,
        timezone=timezone,
        run_id=publication.run_id,
        published_at=publication.published_at,
        high_water_mark=publication.high_water_mark,
        kpis=kpis,
        movers=_movers(r, period, kpis),
        charts=_charts(r, period, month),
        anomalies=anomalies,
        trends=trends,
        sources=tuple(sources),
    )
