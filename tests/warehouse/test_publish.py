"""The publication switch, crash recovery, retention and migration, on real DuckDB files.

Crashes are real: the publisher runs in a subprocess that kills itself with SIGKILL just
before its k-th file-system change (an audit hook on Python's own ``os.rename``/``os.replace``,
``os.symlink``, ``os.remove``, ``os.rmdir`` and ``shutil.rmtree`` events), for every k until a
publish completes. What readers see is read with plain DuckDB and pyarrow through the paths
``Settings`` names, independently of the code under test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from petpro.publication import current_version, read_publication
from petpro.settings import REPO_ROOT, Settings, get_settings
from warehouse.publish import PublishError, publish

CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from petpro.settings import get_settings
    from warehouse.publish import publish

    mode, run_id = sys.argv[1], sys.argv[2]
    WATCHED = {"os.rename", "os.symlink", "os.remove", "os.rmdir", "shutil.rmtree"}
    seen = 0
    renamed_version = False

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def hook(event, args):
        global seen, renamed_version
        if event not in WATCHED:
            return
        seen += 1
        if mode.startswith("nth:") and seen == int(mode[4:]):
            die()
        if mode == "after-version-rename":
            if renamed_version:
                die()
            dst = os.fspath(args[1]) if event == "os.rename" else ""
            parent, name = os.path.split(dst)
            if os.path.basename(parent) == "versions" and not name.startswith("."):
                renamed_version = True
        if mode == "before-version-rename" and event == "os.rename":
            src = os.path.basename(os.fspath(args[0]))
            if os.path.basename(os.path.dirname(os.fspath(args[0]))) == "versions" and src.startswith("."):
                die()

    sys.addaudithook(hook)
    publish(get_settings(), run_id=run_id, keep_versions=int(sys.argv[3]))
    """
)


def crash_publish(settings: Settings, tmp_path: Path, mode: str, run_id: str, keep: int = 4) -> int:
    """Run a real publish in a subprocess that SIGKILLs itself as ``mode`` says; its exit code."""
    script = tmp_path / "crasher.py"
    script.write_text(CRASHER)
    env = {
        **os.environ,
        "PETPRO_HOME": str(settings.home),
        "PYTHONDONTWRITEBYTECODE": "1",  # no .pyc renames among the counted events
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [sys.executable, str(script), mode, run_id, str(keep)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, -9), done.stderr
    return done.returncode


def write_build(settings: Settings, rows: int) -> None:
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    settings.build_db.unlink(missing_ok=True)
    with duckdb.connect(str(settings.build_db)) as con:
        con.execute(f"create table mart_a as select range as x from range({rows})")
        con.execute("create table mart_b as select 'b' as y")


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("PETPRO_HOME", str(tmp_path / "home"))
    settings = get_settings()
    write_build(settings, 5)
    return settings


def duckdb_view(settings: Settings) -> tuple[str, int]:
    """(run id, rows of mart_a) as a reader of ``Settings.published_db`` sees them."""
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        runs = {r[0] for r in con.execute("select run_id from _publication").fetchall()}
        rows = con.execute("select count(*) from mart_a").fetchone()[0]
    assert len(runs) == 1, runs
    return runs.pop(), rows


def parquet_view(marts_dir: Path) -> tuple[str, int]:
    """(run id, rows of mart_a) as a reader of the Parquet marts in ``marts_dir`` sees them."""
    meta = pq.read_metadata(marts_dir / "mart_a.parquet")
    return meta.metadata[b"petpro.run_id"].decode(), meta.num_rows


def hidden_entries(settings: Settings) -> list[str]:
    found = []
    for folder in (settings.published_dir, settings.published_dir / "versions"):
        if folder.is_dir():
            found += [p.name for p in folder.iterdir() if p.name.startswith(".")]
    return [name for name in found if name != ".lock"]


def version_runs(settings: Settings) -> dict[str, str]:
    """Run id of every folder under ``published/versions`` (read from its Parquet metadata)."""
    out = {}
    for folder in sorted((settings.published_dir / "versions").iterdir()):
        if not folder.name.startswith("."):
            out[folder.name] = parquet_view(folder / "marts")[0]
    return out


def test_crash_at_any_step_leaves_every_reader_on_one_version(
    home: Settings, tmp_path: Path
) -> None:
    """Whatever step the publisher dies at, the DuckDB file and the Parquet marts readers
    reach through ``Settings`` belong to one publication: the old one or the new one."""
    outcomes = []
    for k in range(1, 40):
        if home.published_dir.exists():
            shutil.rmtree(home.published_dir)
        write_build(home, 5)
        publish(home, run_id="old")
        write_build(home, 7)
        code = crash_publish(home, tmp_path, f"nth:{k}", "new")
        db = duckdb_view(home)
        files = parquet_view(home.published_marts_dir)
        assert db == files, f"crash before step {k}: DuckDB readers see {db}, Parquet {files}"
        assert db in {("old", 5), ("new", 7)}, db
        # The one reader agrees, and resolves both forms from the same version directory.
        version = current_version(home.published_dir)
        assert version is not None
        assert read_publication(home.published_dir).run_id == parquet_view(version.marts_dir)[0]
        outcomes.append(db[0])
        if code == 0:
            break
    else:
        pytest.fail("the publish never completed")
    # The crashes really fell on both sides of the switch.
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes
    # And the next publish cleans up whatever the last crash left.
    publish(home, run_id="after")
    assert hidden_entries(home) == []


def test_leftovers_of_crashed_publishes_are_removed_and_never_count(
    home: Settings, tmp_path: Path
) -> None:
    publish(home, run_id="one", keep_versions=2)
    publish(home, run_id="two", keep_versions=2)
    # Killed after its version was renamed into place but before the switch: an orphan.
    assert crash_publish(home, tmp_path, "after-version-rename", "three", keep=2) == -9
    assert "three" in version_runs(home).values()
    assert duckdb_view(home)[0] == "two"
    # Killed just before renaming its finished temporary version into place.
    assert crash_publish(home, tmp_path, "before-version-rename", "four", keep=2) == -9
    assert hidden_entries(home), "the crash should have left a temporary version behind"
    assert duckdb_view(home)[0] == "two"

    publish(home, run_id="five", keep_versions=2)
    # Two versions kept — the new one and the one before it — not the orphan.
    assert sorted(version_runs(home).values()) == ["five", "two"]
    assert hidden_entries(home) == []
    assert duckdb_view(home) == ("five", 5)


def test_retention_keeps_the_newest_versions_and_the_current_one(home: Settings) -> None:
    runs = [f"r{i}" for i in range(6)]
    for run in runs:
        publish(home, run_id=run, keep_versions=3)
    assert sorted(version_runs(home).values()) == runs[-3:]
    last = publish(home, run_id="last", keep_versions=1)
    assert os.readlink(home.published_dir / "current") == str(Path("versions") / last.version)
    assert list(version_runs(home).values()) == ["last"]


def test_a_version_directory_holds_both_forms_and_the_record(home: Settings) -> None:
    result = publish(home, run_id="run-1")
    folder = home.published_dir / "versions" / result.version
    assert (home.published_dir / "current").is_symlink()
    assert not os.path.isabs(os.readlink(home.published_dir / "current"))
    assert Path(os.path.realpath(home.published_dir / "current")) == folder
    record = json.loads((folder / "publication.json").read_text())
    assert record["run_id"] == "run-1" and record["version"] == result.version
    assert record["marts"] == {"mart_a": 5, "mart_b": 1}
    assert parquet_view(folder / "marts") == ("run-1", 5)
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from mart_a").fetchone()[0] == 5


def write_legacy_home(settings: Settings) -> None:
    """A home as the earlier publisher left it: DuckDB file and marts link switched apart."""
    published = settings.published_dir
    old = published / "versions" / "20240101T000000000000Z-legacyru" / "marts"
    old.mkdir(parents=True)
    db = published / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table mart_a as select range as x from range(3)")
        con.execute(
            "create table _publication (published_at timestamptz, high_water_mark timestamptz, "
            "run_id varchar, mart varchar, row_count bigint)"
        )
        con.execute("insert into _publication values (now(), null, 'legacy-run', 'mart_a', 3)")
        con.execute(
            f"copy mart_a to '{old / 'mart_a.parquet'}' (format parquet, "
            "kv_metadata {'petpro.run_id': 'legacy-run'})"
        )
    (old / "_publication.json").write_text(json.dumps({"run_id": "legacy-run"}))
    (published / "marts").symlink_to(Path("versions") / old.parent.name / "marts")
    (published / ".warehouse.20240102T000000000000Z-crashed.tmp.duckdb").write_bytes(b"")


def test_the_next_publish_converts_a_home_of_the_earlier_layout(home: Settings) -> None:
    write_legacy_home(home)
    # Until then, readers still find the legacy publication.
    assert read_publication(home.published_dir).run_id == "legacy-run"

    result = publish(home, run_id="new")
    entries = sorted(p.name for p in home.published_dir.iterdir())
    assert entries == [".lock", "current", "versions"]
    assert sorted(p.name for p in (home.published_dir / "versions").iterdir()) == [result.version]
    assert duckdb_view(home) == ("new", 5)
    assert parquet_view(home.published_marts_dir) == ("new", 5)
    assert read_publication(home.published_dir).run_id == "new"


def test_exports_and_the_api_read_the_version_current_points_at(home: Settings) -> None:
    """Both read through ``current`` and report the same record, even with a stale DuckDB file
    of an earlier publication lying in ``published/`` (what a crash of the two-rename publisher
    left)."""
    from exports.errors import NothingPublishedError as ExportsNothingPublished
    from exports.published import PublishedWarehouse
    from petpro.publication import NothingPublishedError
    from serving.publication import NothingPublished, PublicationStore

    assert ExportsNothingPublished is NothingPublishedError is NothingPublished
    with pytest.raises(NothingPublishedError, match="petpro refresh"):
        PublicationStore(home.published_dir).current()

    write_legacy_home(home)
    write_build(home, 7)
    publish(home, run_id="new")
    # Put a stale file back where the two-rename layout kept the DuckDB file.
    with duckdb.connect(str(home.published_dir / "warehouse.duckdb")) as con:
        con.execute("create table mart_a as select 1 as x")
        con.execute(
            "create table _publication as select now() as published_at, null::timestamptz as "
            "high_water_mark, 'stale' as run_id, 'mart_a' as mart, 1 as row_count"
        )
    store = PublicationStore(home.published_db)
    with store.cursor() as (pub, cur):
        served = (pub.run_id, cur.execute("select count(*) from mart_a").fetchone()[0])
    store.close()
    with PublishedWarehouse(home) as wh:
        exported = (wh.publication.run_id, wh.rows("select count(*) from mart_a")[0][0])
    assert served == exported == ("new", 7)


def build_customer_marts(settings: Settings, profile: list[int], daily: list[int]) -> None:
    """Two customer-level marts (names from the vocabulary) in the build database."""
    with duckdb.connect(str(settings.build_db)) as con:
        con.execute(
            "create or replace table mart_customer_profile as select unnest(?) as customer_id",
            [profile],
        )
        con.execute(
            "create or replace table mart_customer_activity_daily as "
            "select unnest(?) as customer_id, 1 as events",
            [daily],
        )


def test_a_version_stores_the_customer_ids_of_its_customer_level_marts(home: Settings) -> None:
    build_customer_marts(home, profile=[1, 2, 3], daily=[3, 4, 4])
    result = publish(home, run_id="ids")
    with duckdb.connect(str(result.database), read_only=True) as con:
        ids = sorted(
            r[0] for r in con.execute("select customer_id from _publication_customers").fetchall()
        )
    assert ids == ["1", "2", "3", "4"]  # mart_a and mart_b have no customer_id


def test_an_erased_customer_prunes_versions_with_and_without_a_stored_id_set(
    home: Settings,
) -> None:
    build_customer_marts(home, profile=[1, 2, 3], daily=[2, 3, 4])
    first = publish(home, run_id="first", keep_versions=10)
    second = publish(home, run_id="second", keep_versions=10)
    # A version published before the id set was stored: only its marts say whom it holds.
    with duckdb.connect(str(second.database)) as con:
        con.execute("drop table _publication_customers")
    # One whose stored table has no customer_id column (a development build named it id):
    # unreadable as a set, so read the long way too rather than failing the publication.
    odd = publish(home, run_id="odd", keep_versions=10)
    with duckdb.connect(str(odd.database)) as con:
        con.execute("alter table _publication_customers rename customer_id to id")
    build_customer_marts(home, profile=[1, 2, 3], daily=[2, 3])  # 4 erased, only daily had it
    third = publish(home, run_id="third", keep_versions=10)
    assert sorted(third.erased) == sorted([first.version, second.version, odd.version])
    assert sorted(version_runs(home).values()) == ["third"]
    fourth = publish(home, run_id="fourth", keep_versions=10)
    assert fourth.erased == ()
    assert sorted(version_runs(home).values()) == ["fourth", "third"]


def test_a_mart_keeps_its_stored_order_in_both_forms(home: Settings) -> None:
    """dbt stores some marts in the order readers scan them (the customer-level fact by day,
    then customer); the version holds the rows in that order, in DuckDB and in Parquet."""
    with duckdb.connect(str(home.build_db)) as con:
        # 2M rows (many row groups, so a copy that does not keep the order interleaves
        # them), stored in an order no hash or sort would give.
        con.execute(
            "create table mart_ordered as select (i * 7919) % 2000003 as k from range(2000000) t(i)"
        )
    result = publish(home, run_id="ordered")
    parquet = result.marts_dir / "mart_ordered.parquet"
    with duckdb.connect() as con:
        con.execute(f"attach '{home.build_db}' as build (read_only)")
        con.execute(f"attach '{result.database}' as version (read_only)")
        stored = "select k, row_number() over (order by rowid) as n from {}.mart_ordered"
        misplaced = con.execute(
            f"""select
                  (select count(*) from ({stored.format("build")}) as b
                   join ({stored.format("version")}) as v using (n) where b.k <> v.k),
                  (select count(*) from ({stored.format("build")}) as b
                   join (select k, file_row_number + 1 as n
                         from read_parquet('{parquet}', file_row_number = true)) as p
                   using (n) where b.k <> p.k),
                  (select count(*) from version.mart_ordered)"""
        ).fetchone()
    assert misplaced == (0, 0, 2_000_000)


def test_per_customer_marts_are_published_in_the_duckdb_file_only(home: Settings) -> None:
    """A per-customer mart (dbt-built or derived) is in the version's DuckDB file and has no
    Parquet file; every other mart has both, with the same rows."""
    with duckdb.connect(str(home.build_db)) as con:
        con.execute(
            "create table mart_customer_activity_daily as "
            "select 'c' || range as customer_id, range as events from range(7)"
        )

    def scores(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
        return {"mart_customer_churn_risk": pa.table({"customer_id": ["c1"], "risk": [0.5]})}

    result = publish(home, run_id="per-customer", derive=[scores])
    with duckdb.connect(str(result.database), read_only=True) as con:
        counted = dict(con.execute("select mart, row_count from _publication").fetchall())
    # Written out here rather than taken from the code under test: the per-customer marts of
    # this build are these two; mart_a and mart_b are aggregates.
    assert counted == {
        "mart_a": 5,
        "mart_b": 1,
        "mart_customer_activity_daily": 7,
        "mart_customer_churn_risk": 1,
    }
    assert sorted(p.name for p in result.marts_dir.iterdir()) == [
        "mart_a.parquet",
        "mart_b.parquet",
    ]
    assert pq.read_table(result.marts_dir / "mart_a.parquet").num_rows == 5
    assert read_publication(home.published_dir).row_counts == counted


def test_derived_marts_join_the_same_version(home: Settings) -> None:
    def squares(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
        # Reads the staged copy of mart_a, exactly what readers of this version will see.
        return {"mart_squares": con.sql("select x, x * x as sq from mart_a").to_arrow_table()}

    result = publish(home, run_id="derive-1", derive=[squares])
    with duckdb.connect(str(home.published_db), read_only=True) as con:
        rows = con.execute("select x, sq from mart_squares order by x").fetchall()
        counted = dict(con.execute("select mart, row_count from _publication").fetchall())
    assert rows == [(x, x * x) for x in range(5)]
    assert counted == {"mart_a": 5, "mart_b": 1, "mart_squares": 5}
    assert pq.read_table(home.published_marts_dir / "mart_squares.parquet").num_rows == 5
    assert parquet_view(home.published_marts_dir)[0] == "derive-1"
    assert result.row_counts["mart_squares"] == 5


@pytest.mark.parametrize(
    "deriver",
    [
        lambda con: {"mart_a": pa.table({"x": [1]})},  # would replace a dbt mart
        lambda con: {"Scores": pa.table({"x": [1]})},  # not a mart name
        lambda con: {"mart_c": [1, 2]},  # not an Arrow table
        lambda con: con.sql("select * from no_such_table").to_arrow_table(),  # the step fails
    ],
)
def test_a_failing_derived_step_leaves_the_previous_publication(
    home: Settings, deriver: object
) -> None:
    publish(home, run_id="before")
    write_build(home, 9)
    with pytest.raises(PublishError):
        publish(home, run_id="after", derive=[deriver])  # type: ignore[list-item]
    assert duckdb_view(home) == ("before", 5)
    assert parquet_view(home.published_marts_dir) == ("before", 5)
    assert hidden_entries(home) == []


def _duckdb_reads(limit: str) -> str:
    """How DuckDB itself reports ``memory_limit`` once set to ``limit``."""
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{limit}'")
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


@pytest.mark.parametrize("limit", [None, "300MB"])
def test_the_publication_runs_within_its_memory_limit(
    home: Settings, monkeypatch: pytest.MonkeyPatch, limit: str | None
) -> None:
    # Unbounded, DuckDB would keep every copied page up to 80 % of RAM; the copy and the
    # derived marts (cursors of the same connection) share the configured pool.
    if limit is not None:
        monkeypatch.setenv("PETPRO_PUBLISH_MEMORY_LIMIT", limit)
    settings = get_settings()

    def setting(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
        return {
            "mart_setting": con.sql("select current_setting('memory_limit') as v").to_arrow_table()
        }

    publish(settings, run_id="bounded", derive=[setting])
    with duckdb.connect(str(settings.published_db), read_only=True) as con:
        seen = con.execute("select v from mart_setting").fetchone()[0]
    assert seen == _duckdb_reads(limit or "256MB")


def test_each_derived_step_starts_without_the_pages_of_the_copy(home: Settings) -> None:
    # The copy leaves the pages it wrote in DuckDB's pool; a derived step that found them
    # there would add its own memory on top (docs/orchestration.md, "Cached pages released
    # between steps").
    with duckdb.connect(str(home.build_db)) as con:
        con.execute(
            "create or replace table mart_a as "
            "select range as x, md5(range::varchar) as y from range(1000000)"
        )
    seen: list[tuple[float, str]] = []

    def pool(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
        cached = con.execute(
            "select coalesce(sum(memory_usage_bytes), 0) / 1e6 from duckdb_memory() "
            "where tag = 'BASE_TABLE'"
        ).fetchone()[0]
        seen.append((cached, con.execute("select current_setting('memory_limit')").fetchone()[0]))
        # Reading the whole mart fills the pool again, for the next step to find.
        con.execute("select count(distinct y) from mart_a").fetchall()
        return {}

    publish(home, run_id="released", derive=[pool, pool])
    assert len(seen) == 2
    for cached, limit in seen:
        assert cached < 2, f"{cached:.1f} MB of table pages cached when the step started"
        assert limit == _duckdb_reads("256MB")


def test_a_publication_out_of_memory_names_the_setting(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(home, run_id="before")
    with duckdb.connect(str(home.build_db)) as con:
        con.execute(
            "create or replace table mart_a as "
            "select range as x, md5(range::varchar) as y from range(2000000)"
        )
    monkeypatch.setenv("PETPRO_PUBLISH_MEMORY_LIMIT", "1MB")
    with pytest.raises(PublishError, match="PETPRO_PUBLISH_MEMORY_LIMIT=1MB; raise it"):
        publish(get_settings(), run_id="after")
    assert duckdb_view(home) == ("before", 5)
    assert parquet_view(home.published_marts_dir) == ("before", 5)
    assert hidden_entries(home) == []
