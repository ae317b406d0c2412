"""Versioned model folders under ``$PETPRO_HOME/models/<model>/<version>/``.

A training run saves everything it produced — the fitted model file(s), ``metadata.json``
(what it was trained on: the publication run id and version, the training window, features,
parameters) and ``evaluation.parquet`` (rows of :data:`predictions.evaluation.EVALUATION_SCHEMA`)
— into a hidden temporary folder that is renamed into place whole, so a reader never sees a
half-written version. Versions sort by name (``<UTC time>-<short id>``); the latest complete
one is what scoring uses. Nothing here knows about a particular model.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from petpro.durability import fsync_dir, fsync_file
from petpro.errors import PetProError
from petpro.settings import Settings
from predictions.evaluation import EVALUATION_SCHEMA

METADATA_FILE = "metadata.json"
EVALUATION_FILE = "evaluation.parquet"


class ModelNotTrainedError(PetProError):
    """No trained version of a model exists yet."""


@dataclass(frozen=True)
class ModelVersion:
    """One saved version of a model."""

    model: str
    version: str
    path: Path

    @property
    def metadata(self) -> dict[str, Any]:
        return json.loads((self.path / METADATA_FILE).read_text())

    def evaluation(self) -> pa.Table:
        return pq.read_table(self.path / EVALUATION_FILE, schema=EVALUATION_SCHEMA)

    def file(self, name: str) -> Path:
        return self.path / name


def new_version_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def save_version(
    settings: Settings,
    model: str,
    *,
    files: Mapping[str, bytes],
    metadata: Mapping[str, Any],
    evaluation: pa.Table,
    version: str | None = None,
) -> ModelVersion:
    """Write a new version of ``model`` atomically and return it."""
    version = version or new_version_id()
    root = settings.models_dir / model
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{version}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, payload in files.items():
            (tmp / name).write_bytes(payload)
        meta = {"model": model, "version": version, **metadata}
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
        pq.write_table(evaluation.cast(EVALUATION_SCHEMA), tmp / EVALUATION_FILE)
        for path in tmp.iterdir():
            fsync_file(path)
        fsync_dir(tmp)
        os.rename(tmp, root / version)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ModelVersion(model, version, root / version)


def versions(settings: Settings, model: str) -> list[ModelVersion]:
    """Complete versions of ``model``, oldest first."""
    root = settings.models_dir / model
    if not root.is_dir():
        return []
    return [
        ModelVersion(model, p.name, p)
        for p in sorted(root.iterdir())
        if p.is_dir() and not p.name.startswith(".") and (p / METADATA_FILE).exists()
    ]


def latest_version(settings: Settings, model: str) -> ModelVersion:
    """The newest complete version; :class:`ModelNotTrainedError` when there is none."""
    found = versions(settings, model)
    if not found:
        raise ModelNotTrainedError(
            f"model {model!r} has not been trained yet: run `petpro predict train` first"
        )
    return found[-1]


def prune_versions(settings: Settings, model: str, *, keep: int = 5) -> list[str]:
    """Delete all but the newest ``keep`` versions of ``model`` (and leftover temporaries)."""
    root = settings.models_dir / model
    if not root.is_dir():
        return []
    doomed = [p for p in root.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    doomed += [v.path for v in versions(settings, model)[:-keep] if keep > 0]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in doomed]
