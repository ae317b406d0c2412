"""A customer erased in the source disappears from every published version, not only the newest.

The whole chain is real: a seeded PostgreSQL source, ingestion, a dbt build, publications;
then the customer is deleted from the source (what the application's privacy erasure does),
and ingestion, dbt and publish run again. The oracle scans every file left under
``published/`` for the customer's id with plain DuckDB, independently of the publisher.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest

from petpro.settings import Settings
from warehouse.publish import publish


def _versions(settings: Settings) -> dict[str, str]:
    """Run id of every version folder under ``published/versions`` (from its record table)."""
    out = {}
    for folder in sorted((settings.published_dir / "versions").iterdir()):
        with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
            out[folder.name] = con.execute("select any_value(run_id) from _publication").fetchone()[
                0
            ]
    return out


def _files_holding(settings: Settings, customer: str) -> list[str]:
    """Every published DuckDB table or Parquet file that still holds ``customer``'s id."""
    found = []
    with duckdb.connect() as con:
        for path in sorted(settings.published_dir.rglob("*.parquet")):
            columns = [r[0] for r in con.execute(f"describe select * from '{path}'").fetchall()]
            if "customer_id" in columns:
                hit = con.execute(
                    f"select count(*) from '{path}' where customer_id::varchar = ?", [customer]
                ).fetchone()[0]
                if hit:
                    found.append(str(path.relative_to(settings.published_dir)))
        for path in sorted(settings.published_dir.rglob("*.duckdb")):
            con.execute(f"attach '{path}' as v (read_only)")
            tables = con.execute(
                "select table_name from information_schema.columns where table_catalog = 'v' "
                "and column_name = 'customer_id'"
            ).fetchall()
            for (table,) in tables:
                hit = con.execute(
                    f'select count(*) from v."{table}" where customer_id::varchar = ?', [customer]
                ).fetchone()[0]
                if hit:
                    found.append(f"{path.relative_to(settings.published_dir)}:{table}")
            con.execute("detach v")
    return found


def _refresh(settings: Settings) -> None:
    from ingestion.run import run_ingestion
    from warehouse.dbt import run_dbt

    run_ingestion(settings)
    run_dbt(settings, ["build"], capture=True)


@pytest.mark.slow
def test_versions_holding_an_erased_customer_are_pruned(
    settings: Settings, source_url: str, tmp_path: Path
) -> None:
    from ingestion.run import run_ingestion
    from sourcedb.seed import seed_source
    from warehouse.dbt import run_dbt

    seed_source(source_url, customers=40, days=20, end_date=date(2025, 3, 20), seed=3)
    run_ingestion(settings, full=True)
    run_dbt(settings, ["build"], capture=True)
    publish(settings, run_id="before-1")
    publish(settings, run_id="before-2")

    with psycopg.connect(source_url) as conn:
        # A customer with activity, so the id sits in both customer-level marts.
        customer = str(
            conn.execute(
                "select u.id from users u join activities a on a.user_id = u.id "
                "where u.role = 'customer' order by u.id limit 1"
            ).fetchone()[0]
        )
        conn.execute("delete from users where id = %s", (customer,))
    assert len(_files_holding(settings, customer)) >= 4  # two marts, two forms, two versions

    _refresh(settings)
    after = publish(settings, run_id="after")
    # The older versions held the erased customer: gone as soon as "after" is current.
    assert sorted(_versions(settings).values()) == ["after"]
    assert after.erased and len(after.erased) == 2
    assert _files_holding(settings, customer) == []

    # A newer publication without erasures keeps the previous version (retention as usual).
    publish(settings, run_id="later")
    assert sorted(_versions(settings).values()) == ["after", "later"]
