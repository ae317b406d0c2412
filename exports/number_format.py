"""How the stakeholder report prints numbers, so a reader (and a test) can parse them back.

- counts: integers with a comma as thousands separator (``12,345``);
- rates (fractions in the marts): percent with one decimal (``42.3%``);
- money: the ISO currency code, then the amount with thousands separators and two decimals
  (``EUR 12,345.67``), one currency at a time — amounts are never summed across currencies;
- relative change of a count or an amount: signed percent with one decimal (``+5.2%``);
- change of a rate: signed percentage points with one decimal (``-1.3 pp``);
- other measures (anomaly bands, scores, slopes): two decimals, integers without decimals;
- a value the marts do not have: ``n/a``.

Negative numbers use the ASCII hyphen-minus, so a copied figure pastes as a number.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

NA = "n/a"


def count(value: Any) -> str:
    return NA if value is None else f"{int(value):,}"


def rate(value: Any) -> str:
    return NA if value is None else f"{float(value) * 100:.1f}%"


def money(value: Any, currency: str | None) -> str:
    if value is None:
        return NA
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    return f"{currency or '???'} {amount:,.2f}"


def relative_change(current: Any, base: Any) -> float | None:
    """(current - base) / |base|; None when either is unknown or the base is zero."""
    if current is None or base is None or float(base) == 0:
        return None
    return (float(current) - float(base)) / abs(float(base))


def point_change(current: Any, base: Any) -> float | None:
    """current - base of two rates, in percentage points; None when either is unknown."""
    if current is None or base is None:
        return None
    return (float(current) - float(base)) * 100


def signed_percent(change: float | None) -> str:
    return NA if change is None else f"{change * 100:+.1f}%"


def signed_points(points: float | None) -> str:
    return NA if points is None else f"{points:+.1f} pp"


def measure(value: Any) -> str:
    """A value of unknown unit: integers as counts, anything else with two decimals."""
    if value is None:
        return NA
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.2f}"
