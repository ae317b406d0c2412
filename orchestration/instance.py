"""The Dagster instance of a PetPro home: ``$PETPRO_HOME/dagster`` with our dagster.yaml.

``petpro refresh`` runs and ``petpro ui`` (``DAGSTER_HOME``) share it, so in-process runs show
up in the UI. The repository's ``dagster.yaml`` is copied in (atomically, only when changed).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from petpro.settings import REPO_ROOT, Settings

DAGSTER_YAML = REPO_ROOT / "dagster.yaml"


def prepare_instance_home(settings: Settings) -> Path:
    """``$PETPRO_HOME/dagster`` with the repository's dagster.yaml in it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != DAGSTER_YAML.read_bytes():
        tmp = home / ".dagster.yaml.tmp"
        shutil.copyfile(DAGSTER_YAML, tmp)
        tmp.replace(target)
    return home


def instance_for(settings: Settings) -> Any:
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(prepare_instance_home(settings)))
