"""Write-audit-publish library and the freshness check, on small hand-made build databases."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from orchestration.defs.publication import freshness_result
from orchestration.locks import build_writer_lock
from petpro.settings import Settings, get_settings
from warehouse.publish import PublishError, publish, read_publication


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("PETPRO_HOME", str(tmp_path / "home"))
    settings = get_settings()
    settings.warehouse_dir.mkdir(parents=True)
    with duckdb.connect(str(settings.build_db)) as con:
        con.execute("create table mart_a as select range as x from range(5)")
        con.execute("create table mart_b as select 'b' as y")
        con.execute("create table stg_not_published as select 1 as z")
    return settings


def test_publish_copies_only_marts_with_publication_record(home: Settings) -> None:
    pub = publish(home, run_id="run-1")
    with duckdb.connect(str(home.published_db), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
        rows = con.execute("select mart, row_count, run_id from _publication order by 1").fetchall()
    assert tables == {"mart_a", "mart_b", "_publication"}
    assert rows == [("mart_a", 5, "run-1"), ("mart_b", 1, "run-1")]
    assert pq.read_table(home.published_marts_dir / "mart_a.parquet").num_rows == 5
    meta = pq.read_metadata(home.published_marts_dir / "mart_b.parquet")
    assert meta.metadata[b"petpro.run_id"] == b"run-1"
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert (home.published_dir / "current").is_symlink()
    assert pub.row_counts == {"mart_a": 5, "mart_b": 1}


def test_failed_publication_leaves_previous_untouched(home: Settings) -> None:
    publish(home, run_id="good")
    current = home.published_dir / "current"
    before = home.published_db.read_bytes(), os.readlink(current)
    with duckdb.connect(str(home.build_db)) as con:
        con.execute("drop table mart_a")
        con.execute("drop table mart_b")
    with pytest.raises(PublishError):
        publish(home, run_id="bad")
    assert (home.published_db.read_bytes(), os.readlink(current)) == before
    hidden = [p.name for p in home.published_dir.iterdir() if p.name.startswith(".")]
    hidden += [p.name for p in (home.published_dir / "versions").iterdir() if p.name[0] == "."]
    assert hidden == [".lock"]


def test_freshness_check_flags_publications_older_than_26_hours(home: Settings) -> None:
    assert not freshness_result(home).passed  # nothing published yet
    publish(home, run_id="r")
    published_at = read_publication(home).published_at
    assert freshness_result(home, published_at + timedelta(hours=25)).passed
    stale = freshness_result(home, published_at + timedelta(hours=27))
    assert not stale.passed and stale.severity.value == "WARN"
    assert freshness_result(home, datetime.now(UTC)).passed


def test_build_writer_lock_serialises_writers(home: Settings) -> None:
    order: list[str] = []
    waited = threading.Event()

    def second() -> None:
        with build_writer_lock(home, on_wait=lambda holder: waited.set()):
            order.append("second")

    with build_writer_lock(home):
        thread = threading.Thread(target=second)
        thread.start()
        assert waited.wait(10)
        time.sleep(0.2)
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
