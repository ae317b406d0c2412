"""The row-level quality gate: error checks run on every extracted row, in Arrow.

Each check is a vectorised test over one column of a converted batch (a few compute kernels
per batch, so it costs little next to decoding and encoding). A row failing an *error*
check is quarantined: it goes to the table's ``_rejected.parquet`` with its ``_reason``
instead of ``data.parquet``, so it never reaches dbt or a publication, and the run counts it
per check with a few offending values. *Warning* checks (a value an enum of the contract
does not know yet) are counted the same way but keep the row.

Error checks: a required column is NULL (keys, the cursor, the activity type), a value does
not parse, a timestamp lies before the plausible window (``PETPRO_EARLIEST_DATE``, default
``PETPRO_PARTITIONS_START``) or, for things that already happened, more than an hour in the
future, an amount, price, weight or duration is negative, a rating lies outside 1..5, a
derived device type is unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.contracts import TableContract, enum_columns

FUTURE_TOLERANCE = timedelta(hours=1)
# Timestamps that record something that already happened (bookings' start/end may be future).
PAST_TIMESTAMPS = ("created_at", "updated_at", "timestamp", "paid_at", "last_login", "deleted_at")
SCHEDULED_TIMESTAMPS = ("start_time", "end_time")
AMOUNTS = ("amount", "price", "weight_kg", "duration_minutes")
DEVICE_TYPES = ("mobile", "tablet", "desktop", "other")
EXAMPLES = 5

Test = Callable[[pa.Array], pa.Array]


@dataclass(frozen=True)
class Rule:
    """One check on one column: ``test`` marks the violating rows (True; never NULL)."""

    check: str
    column: str
    reason: str
    test: Test
    hint: str = ""
    # Examples show the row's key instead of the (NULL) value.
    show_key: bool = False


@dataclass
class Tally:
    """How many rows of a run failed one check, with the first few offending values."""

    check: str
    column: str
    reason: str
    hint: str = ""
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "reason": self.reason,
            "count": self.count,
            "examples": self.examples,
        }


def _mask(array: pa.Array) -> pa.Array:
    return pc.fill_null(array, False)


def _before(limit: datetime) -> Test:
    return lambda a: _mask(pc.less(a, pa.scalar(limit, type=a.type)))


def _after(limit: datetime) -> Test:
    return lambda a: _mask(pc.greater(a, pa.scalar(limit, type=a.type)))


def _outside(low: float, high: float | None) -> Test:
    def test(a: pa.Array) -> pa.Array:
        def bound(v: float) -> pa.Scalar:
            return pa.scalar(Decimal(str(v)) if pa.types.is_decimal(a.type) else v, type=a.type)

        below = pc.less(a, bound(low))
        if high is None:
            return _mask(below)
        return _mask(pc.or_(below, pc.greater(a, bound(high))))

    return test


def _not_in(values: tuple[str, ...]) -> Test:
    value_set = pa.array(values, pa.string())
    return lambda a: _mask(pc.and_(pc.is_valid(a), pc.invert(pc.is_in(a, value_set=value_set))))


def earliest_instant(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def error_rules(contract: TableContract, *, earliest: date | None, now: datetime) -> list[Rule]:
    """The quarantining checks of a table, in priority order (a row keeps its first reason)."""
    names = set(contract.lake_schema().names)
    rules = [
        Rule("not_null", name, f"null {name}", lambda a: pc.is_null(a), show_key=True)
        for name in contract.required
    ]
    if earliest is not None:
        since = earliest_instant(earliest)
        hint = "set PETPRO_EARLIEST_DATE to an earlier date to accept older history"
        for name in (*PAST_TIMESTAMPS, *SCHEDULED_TIMESTAMPS):
            if name in names:
                rules.append(
                    Rule(
                        "not_before_earliest_date",
                        name,
                        f"{name} before {earliest.isoformat()}",
                        _before(since),
                        hint,
                    )
                )
    for name in PAST_TIMESTAMPS:
        if name in names:
            rules.append(
                Rule(
                    "not_in_future",
                    name,
                    f"{name} in the future",
                    _after(now + FUTURE_TOLERANCE),
                    "check the source's clock and time zone",
                )
            )
    for name in AMOUNTS:
        if name in names:
            rules.append(Rule("non_negative", name, f"negative {name}", _outside(0, None)))
    if contract.table == "reviews" and "rating" in names:
        rules.append(Rule("between_1_and_5", "rating", "rating outside 1..5", _outside(1, 5)))
    if "average_rating" in names:
        rules.append(
            Rule("between_0_and_5", "average_rating", "average_rating outside 0..5", _outside(0, 5))
        )
    if "device_type" in names:
        rules.append(
            Rule("known_device_type", "device_type", "unknown device_type", _not_in(DEVICE_TYPES))
        )
    return rules


def warning_rules(contract: TableContract) -> list[Rule]:
    """Counted but not quarantining: enum values the contract does not know (yet)."""
    return [
        Rule(
            "known_enum_value",
            name,
            f"unknown {name}",
            _not_in(values),
            "extracted as is; teach ingestion/contracts.py and the models the new value",
        )
        for name, values in enum_columns(contract).items()
    ]


def _examples(values: pa.Array, wanted: int) -> list[str]:
    out: list[str] = []
    for value in values.slice(0, wanted * 4).to_pylist():
        text = value.isoformat() if isinstance(value, datetime | date) else str(value)
        if text not in out:
            out.append(text)
        if len(out) >= wanted:
            break
    return out


class RowGate:
    """Applies a table's row checks to converted batches and tallies what failed."""

    def __init__(
        self,
        contract: TableContract,
        *,
        earliest: date | None = None,
        now: datetime | None = None,
    ) -> None:
        self.contract = contract
        self.earliest = earliest
        self.errors = error_rules(contract, earliest=earliest, now=now or datetime.now(UTC))
        self.warnings = warning_rules(contract)
        self.tallies: dict[str, Tally] = {}
        self.warning_tallies: dict[str, Tally] = {}
        self.checked = 0

    def _tally(
        self,
        into: dict[str, Tally],
        rule: Rule,
        hits: pa.Array,
        columns: dict[str, pa.Array],
        shown: pa.Array | None = None,
    ) -> None:
        count = int(pc.sum(hits).as_py() or 0)
        if not count:
            return
        tally = into.setdefault(rule.reason, Tally(rule.check, rule.column, rule.reason, rule.hint))
        tally.count += count
        if len(tally.examples) < EXAMPLES:
            if shown is None:
                key = self.contract.primary_key
                shown = columns[key] if rule.show_key else columns[rule.column]
            for text in _examples(shown.filter(hits), EXAMPLES):
                if text not in tally.examples and len(tally.examples) < EXAMPLES:
                    tally.examples.append(text)

    def note(
        self,
        rule: Rule,
        hits: pa.Array,
        columns: dict[str, pa.Array],
        reason: pa.Array,
        shown: pa.Array | None = None,
    ) -> pa.Array:
        """Quarantine the rows of ``hits`` not already quarantined; return the new reasons
        (``shown``: the values to quote as examples, default the rule's column)."""
        fresh = pc.and_(hits, pc.is_null(reason))
        self._tally(self.tallies, rule, fresh, columns, shown)
        return pc.if_else(fresh, pa.scalar(rule.reason), reason)

    def apply(self, columns: dict[str, pa.Array], reason: pa.Array) -> pa.Array:
        """Run every check on a batch's columns; return the quarantine reason of each row
        (NULL: the row is accepted)."""
        n = len(reason)
        self.checked += n
        for rule in self.errors:
            hits = rule.test(columns[rule.column])
            if pc.any(hits).as_py():
                reason = self.note(rule, hits, columns, reason)
        for rule in self.warnings:
            hits = rule.test(columns[rule.column])
            if pc.any(hits).as_py():
                self._tally(self.warning_tallies, rule, hits, columns)
        return reason

    def error_messages(self, where: str) -> list[str]:
        """One line per failed error check: check, table.column, true count, examples."""
        return [_message(self.contract.table, t, f"quarantined in {where}") for t in self.failed()]

    def warning_messages(self) -> list[str]:
        return [
            _message(self.contract.table, t, "kept")
            for t in sorted(self.warning_tallies.values(), key=lambda t: -t.count)
        ]

    def failed(self) -> list[Tally]:
        return sorted(self.tallies.values(), key=lambda t: -t.count)


def unparseable_rule(column: str) -> Rule:
    return Rule("parseable", column, f"unparseable {column}", lambda a: pc.is_null(a))


def _message(table: str, tally: Tally, fate: str) -> str:
    examples = ", ".join(tally.examples)
    text = (
        f"{table}.{tally.column}: check {tally.check} failed for {tally.count:,} row(s) "
        f"({tally.reason}), e.g. {examples}; {fate}"
    )
    return text + (f" ({tally.hint})" if tally.hint else "")
