"""A real chain for the prediction tests: seed → ingest → dbt build → publish → train → publish.

One seeded source per session (3,000 customers over 420 days, fixed seed) is large enough for
the churn model to beat the recency baseline and for the CLV back-test to land within 20 % by
a clear, stable margin (the margins are asserted, not only the sign). The first publication
has no trained model (empty score marts); the models are trained on it, and the second
publication scores every customer, as in ``petpro demo``. Tests treat it as read-only, except
the erasure test, which works on its own copy of the chain's end state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from psycopg import sql

from petpro.settings import Settings, get_settings
from sourcedb.schema import create_schema

CUSTOMERS = 3000
DAYS = 420
END = date(2026, 6, 30)
SEED = 23


@dataclass(frozen=True)
class Predicted:
    settings: Settings
    source_url: str
    training: object  # predictions.train.TrainingRun


def _with_database(url: str, database: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


@pytest.fixture(scope="session")
def predicted(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Predicted]:
    from ingestion.run import run_ingestion
    from predictions.steps import derived_steps
    from predictions.train import train_models
    from sourcedb.seed import seed_source
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    name = f"predict_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _with_database(pg_admin_url, name)
    with psycopg.connect(url) as conn:
        create_schema(conn)
    seed_source(url, customers=CUSTOMERS, days=DAYS, end_date=END, seed=SEED)
    home = tmp_path_factory.mktemp("predict_home")
    settings = get_settings(
        home=home, source_url=url, pii_key="predict-test-key", jwt_secret="j" * 40
    )
    run_ingestion(settings, full=True)
    run_dbt(settings, ["build"], capture=True)
    publish(settings, run_id="untrained", derive=derived_steps(settings))
    training = train_models(settings)
    publish(settings, run_id="scored", derive=derived_steps(settings))
    yield Predicted(settings=settings, source_url=url, training=training)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
