"""The ``petpro`` command line, the top floor: it may import every package, nothing imports it.

One module per area (``source``, ``ingest``, ``dbt``, ``refresh``, ``export``, ``serve``,
``audit``, ``demo``, ``ui``, ``predict``) exposes ``register(app)``; :func:`register_all` attaches them to
the root Typer app built in :mod:`cli.main`. Modules import their heavy libraries (Dagster,
dbt, FastAPI) inside the commands, so ``petpro --help`` stays fast.
"""

from __future__ import annotations

import importlib

import typer

AREAS = ("source", "ingest", "dbt", "refresh", "export", "serve", "audit", "demo", "ui", "predict")


def register_all(app: typer.Typer) -> None:
    for area in AREAS:
        importlib.import_module(f"cli.{area}").register(app)
