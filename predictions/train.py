"""One training run of every customer model on the current publication.

Training reads the publication readers see (``petpro.publication.open_current``), never
``build.duckdb``, and ties each saved version to it (run id, version, high-water mark in the
version's ``metadata.json``). Erased customers are absent from the publication, so they are
absent from the next training set. Old versions beyond ``keep`` are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from petpro.publication import open_current
from petpro.settings import Settings
from predictions.churn import MODEL as CHURN_MODEL
from predictions.churn import ChurnTraining, save_churn, train_churn
from predictions.clv import MODEL as CLV_MODEL
from predictions.clv import ClvTraining, save_clv, train_clv
from predictions.registry import prune_versions

KEEP_VERSIONS = 5


@dataclass
class TrainingRun:
    churn: ChurnTraining
    clv: ClvTraining
    publication: dict


def train_models(settings: Settings, *, seed: int = 0, keep: int = KEEP_VERSIONS) -> TrainingRun:
    """Train churn and CLV on the current publication and save a new version of each."""
    with open_current(settings.published_dir) as pub:
        record = pub.record.to_json()
        publication = {
            "run_id": record["run_id"],
            "version": record["version"],
            "published_at": record["published_at"],
            "high_water_mark": record["high_water_mark"],
        }
        churn = train_churn(pub.con.cursor(), seed=seed)
        clv = train_clv(pub.con.cursor())
    now = datetime.now(UTC)
    save_churn(settings, churn, publication=publication, now=now)
    save_clv(settings, clv, publication=publication, now=now)
    for model in (CHURN_MODEL, CLV_MODEL):
        prune_versions(settings, model, keep=keep)
    return TrainingRun(churn=churn, clv=clv, publication=publication)
