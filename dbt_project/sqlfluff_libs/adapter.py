"""dbt's `adapter` for sqlfluff's Jinja templater (lint only; dbt never reads this folder).

sqlfluff renders the models with plain Jinja, where dbt's `adapter` does not exist. The
project's dialect macros call ``adapter.dispatch`` and the models ``adapter.quote``: here
both behave as on DuckDB, the dialect sqlfluff lints (``default__`` macros, double quotes).
"""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


@pass_context
def dispatch(context: Context, macro_name: str, macro_namespace: str | None = None) -> Any:
    for prefix in ("duckdb__", "default__"):
        macro = context.get(prefix + macro_name)
        if macro is not None:
            return macro
    raise KeyError(f"no duckdb__ or default__ implementation of macro {macro_name!r}")
