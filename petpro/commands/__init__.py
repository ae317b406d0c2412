"""Command groups of the ``petpro`` CLI, one module per area.

``register_all`` attaches every area's commands to the root Typer app. An area module
exposes ``register(app)``; modules import their heavy libraries lazily inside commands.
"""

from __future__ import annotations

import importlib

import typer

AREAS = ("source", "ingest", "dbt", "refresh", "export", "serve", "audit", "demo", "ui")


def register_all(app: typer.Typer) -> None:
    for area in AREAS:
        try:
            module = importlib.import_module(f"petpro.commands.{area}")
        except ModuleNotFoundError as exc:
            if exc.name == f"petpro.commands.{area}":
                continue  # area not built yet
            raise
        module.register(app)
