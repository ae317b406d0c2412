"""Metric formulas and period buckets, rendered from the dbt project's own macros.

Every metric is defined once, in dbt: the marts compute rates, running totals and rolling
windows through the macros of ``dbt_project/macros/metric_formulas.sql`` and bucket dates
with ``week_start``/``month_start`` of ``time_zone.sql``. Under segment filters no mart can
hold the answer precomputed (there is one per combination of segments), so the API counts
customers in the customer-level marts and combines those counts with the *same* macros,
rendered here with plain Jinja — never with a formula of its own. The macros' arguments
are SQL expressions written in ``serving/queries.py``, never request values.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from petpro.errors import PetProError
from petpro.settings import REPO_ROOT

MACROS_DIR = REPO_ROOT / "dbt_project" / "macros"
MACRO_FILES = ("metric_formulas.sql", "time_zone.sql")


class FormulaError(PetProError):
    """The dbt macros the API renders are missing or unusable."""


class Formulas:
    """The macros of ``MACRO_FILES`` as functions returning one-line SQL expressions."""

    def __init__(self, macros_dir: Path = MACROS_DIR) -> None:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
        self._macros: dict[str, jinja2.runtime.Macro] = {}
        for name in MACRO_FILES:
            path = macros_dir / name
            try:
                module = env.from_string(path.read_text(encoding="utf-8")).module
            except (OSError, jinja2.TemplateError) as exc:
                raise FormulaError(
                    f"cannot load the metric macros {path} ({exc}); the API renders them to "
                    "compute filtered answers: run it from a complete checkout"
                ) from exc
            for attr in dir(module):
                value = getattr(module, attr)
                if isinstance(value, jinja2.runtime.Macro):
                    self._macros[attr] = value

    def __call__(self, name: str, *args: str) -> str:
        try:
            macro = self._macros[name]
        except KeyError:
            raise FormulaError(f"no dbt macro {name!r} in {list(MACRO_FILES)}") from None
        return " ".join(str(macro(*args)).split())

    def period_start(self, interval: str, date_sql: str) -> str:
        """The start of the day, ISO week or month containing the DATE ``date_sql``."""
        if interval == "day":
            return date_sql
        if interval in ("week", "month"):
            return self(f"{interval}_start", date_sql)
        raise FormulaError(f"no period {interval!r}")  # params.INTERVALS prevents it


@cache
def formulas() -> Formulas:
    """The formulas of this checkout's dbt project (loaded once per process)."""
    return Formulas()
