"""Incremental builds over any sequence of windows equal a --full-refresh build.

The lake is filled in three slices of activity dates (as a daily schedule would), with dbt
runs after each: the first build, a window passed as --vars that overlaps days already
built, a run without vars (window = table's max date - late_days onwards), a late event
inserted in the source for the day before the last one, and finally a backfill of a window
of old days. The incremental tables and every mart are
then compared row by row with a --full-refresh build of the same lake. The activity log is
narrowed (30 days, 5 per customer) so that both its day cut-off and its per-customer cap
decide rows in every run.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingestion.contracts import CONTRACTS
from petpro.vocabulary import CONTRACT_MARTS, DERIVED_MARTS

pytestmark = pytest.mark.slow

COMPARED = (
    "int_customer_daily_activity",
    "int_customer_hourly_activity",
    "int_customer_active_days",
    "int_customer_active_periods",
    "int_customer_heatmap_cells",
    "int_customer_signup_day_activity",
    "int_user_last_device",
    *(m for m in CONTRACT_MARTS if m not in DERIVED_MARTS),
)
# Every run gets them: a cap and a cut-off that bite on the test source.
LOG_VARS = {"activity_log_days": 30, "activity_log_per_customer": 5}


def snapshot_tables(settings: Any) -> dict[str, list[tuple]]:
    import duckdb

    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        return {
            t: sorted(con.execute(f"select * from main.{t}").fetchall(), key=repr) for t in COMPARED
        }


def assert_log_is_narrowed(settings: Any) -> None:
    """The activity log's cap and cut-off both left rows out (so the comparison covers them)."""
    import duckdb

    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        capped = con.execute(
            """select count(*) from (
                select daily.customer_id from main.int_customer_daily_activity as daily
                cross join main.int_high_water_mark as hwm
                where daily.activity_date > hwm.high_water_date - 30
                group by daily.customer_id having sum(daily.events) > 5) as busy
            inner join (select customer_id from main.mart_customer_activity_log
                group by customer_id having count(*) = 5) as logged using (customer_id)"""
        ).fetchone()[0]
        older = con.execute(
            """select count(*) from main.int_customer_daily_activity as daily
            cross join main.int_high_water_mark as hwm
            where daily.activity_date <= hwm.high_water_date - 30"""
        ).fetchone()[0]
    assert capped > 10, "too few customers reach the activity log's cap to test it"
    assert older > 0, "no activity older than the activity log's cut-off"


def rows_out_of_order(settings: Any) -> int:
    """Rows of the customer-level fact stored after a row of a later (day, customer).

    Read in storage order (``rowid``): the API's distinct counts over date ranges rely on the
    table being clustered by day, then customer (mart_customer_activity_daily.sql)."""
    import duckdb

    with duckdb.connect(str(settings.build_db), read_only=True) as con:
        return con.execute(
            """select count(*) from (
                select activity_date, customer_id,
                       lag(activity_date) over (order by rowid) as previous_date,
                       lag(customer_id) over (order by rowid) as previous_customer
                from main.mart_customer_activity_daily)
            where activity_date < previous_date
               or (activity_date = previous_date and customer_id < previous_customer)"""
        ).fetchone()[0]


def models_checkpointed(settings: Any) -> set[str]:
    """Models after whose own SQL dbt's log shows a ``checkpoint`` statement run on DuckDB.

    dbt's debug log writes each statement as ``On <node>: /* {...} */`` followed by the SQL on
    the next lines; the post-hook of dbt_project.yml (macros/checkpoint.sql) is a statement of
    its own whose whole text is ``checkpoint``, answered by ``SQL status: OK``."""
    from warehouse.dbt import log_dir

    lines = (log_dir(settings) / "dbt.log").read_text().splitlines()
    done = set()
    for i, line in enumerate(lines):
        node = re.search(r"On (model\.petpro\.\w+): /\*", line)
        rest = [x.strip() for x in lines[i + 1 : i + 6] if x.strip()]
        if node and rest[:1] == ["checkpoint"] and "SQL status: OK" in (rest[1:2] or [""])[0]:
            done.add(node.group(1))
    return done


def test_incremental_windows_equal_full_refresh(make_source: Any, tmp_path: Any) -> None:
    from ingestion.run import run_ingestion
    from petpro.settings import get_settings
    from warehouse.dbt import run_dbt, target_dir

    url = make_source("UTC", seed=7)
    home = tmp_path / "home"
    home.mkdir()
    settings = get_settings(home=home, source_url=url, timezone="UTC", pii_key="test-pii-key")
    with psycopg.connect(url) as conn:
        first, last = conn.execute(
            'select min("timestamp")::date, max("timestamp")::date from activities'
        ).fetchone()
    cut1, cut2 = first + timedelta(days=40), first + timedelta(days=70)

    run_ingestion(settings, [t for t in CONTRACTS if t != "activities"])
    run_ingestion(settings, dates=(first, cut1))
    run_dbt(settings, ["run"], vars=LOG_VARS, capture=True)  # first build: everything in the lake

    run_ingestion(settings, dates=(cut1 + timedelta(days=1), cut2))
    # A window overlapping days already built (re-processing them must change nothing).
    window = {"min_date": str(cut1 - timedelta(days=5)), "max_date": str(cut2)}
    run_dbt(settings, ["run"], vars={**window, **LOG_VARS}, capture=True)

    run_ingestion(settings, dates=(cut2 + timedelta(days=1), last))
    # No window: from the table's max date - late_days on.
    run_dbt(settings, ["run"], vars=LOG_VARS, capture=True)

    # A late event: recorded now, timestamped 03:00 on the day before the last day.
    with psycopg.connect(url) as conn:
        customer = conn.execute(
            "select id from users where role = 'customer' order by created_at limit 1"
        ).fetchone()[0]
        late_at = datetime.combine(last, datetime.min.time(), tzinfo=UTC) - timedelta(
            days=1, hours=-3
        )
        conn.execute(
            "insert into activities (id, user_id, type, metadata, \"timestamp\") values (%s, %s, 'login', '{}', %s)",
            (uuid.uuid4(), customer, late_at),
        )
    run_ingestion(settings)
    run_dbt(settings, ["run"], vars=LOG_VARS, capture=True)
    # Nightly windows append their sorted days after the days before them.
    assert rows_out_of_order(settings) == 0
    # A backfill of old days: the window ends long before the newest activities, so what a
    # table keeps per customer (latest device, newest log rows) must come from held rows.
    past = str(last - timedelta(days=30))
    run_dbt(settings, ["run"], vars={"min_date": past, "max_date": past, **LOG_VARS}, capture=True)
    incremental = snapshot_tables(settings)

    run_dbt(settings, ["run", "--full-refresh"], vars=LOG_VARS, capture=True)
    full = snapshot_tables(settings)
    # Every model of the build checkpointed DuckDB right after it (docs/warehouse.md, "A
    # checkpoint after every model"): its rows leave the buffer pool for build.duckdb.
    results = json.loads((target_dir(settings) / "run_results.json").read_text())["results"]
    built = {r["unique_id"] for r in results if r["unique_id"].startswith("model.")}
    assert len(built) > 40
    assert built <= models_checkpointed(settings), built - models_checkpointed(settings)
    assert rows_out_of_order(settings) == 0
    assert_log_is_narrowed(settings)

    assert sum(r[3] for r in full["int_customer_daily_activity"]) > 1000, "too little data to test"
    late_rows = [
        r
        for r in full["int_customer_daily_activity"]
        if r[0] == str(customer) and r[1] == late_at.date()
    ]
    assert late_rows, "the late event is missing from the full refresh"
    for table in COMPARED:
        assert incremental[table] == full[table], (
            f"{table}: incremental build differs from --full-refresh "
            f"({len(incremental[table])} vs {len(full[table])} rows)"
        )


def test_run_dbt_failure_names_the_node(tmp_path: Any) -> None:
    """A failing dbt run raises one line that names the failing node and the reason."""
    from petpro.settings import get_settings
    from warehouse.dbt import DbtError, run_dbt

    settings = get_settings(home=tmp_path / "empty", timezone="UTC")
    # No lake at all: the first staging model over a missing Parquet file fails.
    with pytest.raises(DbtError) as info:
        run_dbt(settings, ["run", "--select", "stg_petpro__users"], capture=True)
    message = str(info.value)
    assert "\n" not in message
    assert "model.petpro.stg_petpro__users" in message
    assert "data.parquet" in message
