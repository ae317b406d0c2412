"""An erased customer disappears from every prediction output and from the next training set.

Works on copies of the session chain's source database (PostgreSQL ``template``) and home, so
the other tests keep their publication. The customer with the highest churn probability and a
lifetime value is deleted from the source (cascading, like the application's erasure); after
ingest → dbt → publish they are in no published prediction mart, and the next training run's
snapshots do not contain them.
"""

from __future__ import annotations

import shutil
import uuid

import duckdb
import psycopg
from psycopg import sql

from petpro.publication import current_version
from petpro.settings import get_settings

PREDICTION_MARTS = (
    "mart_customer_churn_risk",
    "mart_customer_clv",
    "mart_customer_rfm",
    "mart_customer_transactions",
    "mart_customer_activity_log",
)


def _holding(database, customer: str) -> list[str]:
    with duckdb.connect(str(database), read_only=True) as con:
        return [
            m
            for m in PREDICTION_MARTS
            if con.execute(
                f"select count(*) from {m} where customer_id = ?", [customer]
            ).fetchone()[0]
        ]


def test_erased_customer_leaves_predictions_and_the_next_training_set(
    predicted, pg_admin_url, tmp_path
) -> None:
    from ingestion.run import run_ingestion
    from predictions.steps import derived_steps
    from predictions.train import train_models
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    source = psycopg.conninfo.conninfo_to_dict(predicted.source_url)["dbname"]
    name = f"erase_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create database {} template {}").format(
                sql.Identifier(name), sql.Identifier(source)
            )
        )
    info = psycopg.conninfo.conninfo_to_dict(pg_admin_url)
    info["dbname"] = name
    url = psycopg.conninfo.make_conninfo(**info)
    home = tmp_path / "home"
    shutil.copytree(predicted.settings.home, home, symlinks=True)
    settings = get_settings(home=home, source_url=url, pii_key="predict-test-key")
    try:
        with duckdb.connect(
            str(current_version(home / "published").database), read_only=True
        ) as con:
            scored = con.execute(
                "select r.customer_id from mart_customer_churn_risk r join mart_customer_clv c "
                "using (customer_id) order by r.churn_probability desc, r.customer_id"
            ).fetchall()
        # Scored, valued, and in the first training set: erasure must take them out of all.
        victim = next(r[0] for r in scored if r[0] in predicted.training.churn.customer_ids)
        assert len(_holding(current_version(home / "published").database, victim)) == 5
        with psycopg.connect(url) as conn:
            conn.execute("delete from users where id = %s", (victim,))

        run_ingestion(settings)
        run_dbt(settings, ["run"], capture=True)
        publish(settings, run_id="after-erasure", derive=derived_steps(settings))
        assert _holding(current_version(home / "published").database, victim) == []

        run = train_models(settings)
        assert victim not in run.churn.customer_ids
        assert run.churn.customer_ids  # the training set itself is not empty
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
