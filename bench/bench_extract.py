"""Extraction throughput: our activities extraction vs PostgreSQL's own limit and two peers.

On one seeded ``activities`` table of at least ``PETPRO_BENCH_ACTIVITIES`` rows (default
2,000,000; the database is cached under ``PETPRO_BENCH_EXTRACT_HOME``, default
``$TMPDIR/petpro-bench-extract``, on a private embedded PostgreSQL) it measures, in rows/s:

* ``limit``: ``COPY (SELECT <contract columns>) TO STDOUT (FORMAT binary)`` read and
  discarded by psycopg: what PostgreSQL can produce, with no decoding or writing at all
  (plain, and with our ``ORDER BY timestamp, id``; uuids travel as 16 raw bytes in both);
* ``ours``: ``ingest_table(settings, "activities", full=True)`` into an empty lake
  (partitioning, pseudonymisation, zstd Parquet, fsync, atomic commits; the GX sample
  validation is timed separately), in a fresh subprocess that also reports its peak RSS;
* ``pandas``: ``pandas.read_sql`` + ``DataFrame.to_parquet`` of the same columns;
* ``dlt``: dlt's ``sql_table`` source with its pyarrow backend, written as Parquet by the
  filesystem destination.

The peers are run on the first ``PETPRO_BENCH_PEER_ROWS`` rows (default 200,000; they are
much slower, so the full table would take minutes). Peak RSS is measured at the main size
and at ``PETPRO_BENCH_ACTIVITIES_LARGE`` (default twice the main size; 0 skips it) to show
that memory stays flat. Goals: ours >= 0.6x the limit, >= 10x dlt, peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

from ingestion.contracts import CONTRACTS
from ingestion.extract import quote_ident, select_sql
from petpro.settings import get_settings

ACTIVITIES_PER_CUSTOMER = 46  # what the seed produces over 540 days (measured: ~47)
PEER_TABLE = "bench_activities_peer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bench_home() -> Path:
    default = Path(tempfile.gettempdir()) / "petpro-bench-extract"
    return Path(os.environ.get("PETPRO_BENCH_EXTRACT_HOME", default)).resolve()


def _database(server_admin: str, url_of: object, rows: int) -> str:
    """URL of a database holding at least ``rows`` activities (seeded once, then reused)."""
    from sourcedb.seed import seed_source

    name = f"acts_{rows}"
    with psycopg.connect(server_admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(f"create database {name}")
    url = url_of(name)  # type: ignore[operator]
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('activities')").fetchone()[0]
        have = conn.execute("select count(*) from activities").fetchone()[0] if exists else 0
    if have < rows:
        customers = rows // ACTIVITIES_PER_CUSTOMER + 1
        while True:
            print(f"seeding {customers:,} customers for >= {rows:,} activities …", flush=True)
            started = time.perf_counter()
            summary = seed_source(url, customers=customers, days=540, reset=True)
            have = summary.rows["activities"]
            print(f"  {have:,} activities in {time.perf_counter() - started:.0f} s", flush=True)
            if have >= rows:
                break
            customers = int(customers * rows / have * 1.02) + 1
    return url


def _limit(url: str, sql: str) -> tuple[int, float]:
    started = time.perf_counter()
    size = 0
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(f"copy ({sql}) to stdout (format binary)") as copy,
    ):
        for chunk in copy:
            size += len(chunk)
    return size, time.perf_counter() - started


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from {quote_ident(table)}").fetchone()[0]


def _vm_hwm() -> int:
    """This process's peak RSS in bytes. Not ``getrusage().ru_maxrss``: Linux carries that
    across fork+exec, so a child started by a parent that grew (e.g. after the pandas and
    dlt peers) would report the parent's peak; ``VmHWM`` belongs to the new address space."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(url: str, home: str) -> None:
    """Run our full extraction in this (fresh) process and print JSON figures."""
    import psutil

    import ingestion.run
    from ingestion.run import ingest_table

    process = psutil.Process()
    base = process.memory_info().rss
    peak = {"extract": base, "all": base}
    phase = {"name": "extract"}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss = process.memory_info().rss
            peak["all"] = max(peak["all"], rss)
            if phase["name"] == "extract":
                peak["extract"] = max(peak["extract"], rss)
            time.sleep(0.02)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    settings = get_settings(home=home, source_url=url, pii_key="bench-pii-key")
    validate = ingestion.run.validate

    def validate_phase(*args: object, **kwargs: object) -> object:
        phase["name"] = "quality"  # extraction is done: GX imports count separately
        return validate(*args, **kwargs)

    ingestion.run.validate = validate_phase  # type: ignore[assignment]

    def progress(table: str, done: int, total: int | None) -> None:
        pass

    result = ingest_table(settings, "activities", full=True, progress=progress)
    stop.set()
    watcher.join()
    rusage_peak = _vm_hwm()
    print(
        json.dumps(
            {
                "rows": result.rows + result.rejected,
                "seconds": result.seconds,
                "quality_seconds": result.quality_seconds,
                "files": result.files,
                "bytes": result.bytes,
                "base_rss": base,
                "peak_rss": max(peak["all"], rusage_peak),
                "peak_rss_extract": peak["extract"],
                "quality_sampled": result.quality.details.get("validated_rows"),
            }
        )
    )


def _ours(url: str) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="petpro-bench-lake-"))
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_extract", "--child", url, str(home)],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"our extraction failed:\n{exc.stderr}") from exc
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _peer_table(url: str, rows: int) -> None:
    columns = ", ".join(quote_ident(c.name) for c in CONTRACTS["activities"].source_columns)
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass(%s)", (PEER_TABLE,)).fetchone()[0]
        if exists and _count(url, PEER_TABLE) == rows:
            return
        conn.execute(f"drop table if exists {PEER_TABLE}")
        conn.execute(
            f"create table {PEER_TABLE} as select {columns} from activities "
            f'order by "timestamp", id limit {rows}'
        )
        conn.execute(f"alter table {PEER_TABLE} add primary key (id)")


def _sqlalchemy_url(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return (
        f"postgresql+psycopg://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', 5432)}/{info['dbname']}"
    )


def _pandas(url: str, rows: int) -> float:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(_sqlalchemy_url(url))
    out = Path(tempfile.mkdtemp(prefix="petpro-bench-pandas-"))
    try:
        started = time.perf_counter()
        frame = pd.read_sql(f"select * from {PEER_TABLE}", engine)
        frame.to_parquet(out / "activities.parquet", compression="zstd")
        return time.perf_counter() - started
    finally:
        engine.dispose()
        shutil.rmtree(out, ignore_errors=True)


def _dlt(url: str, rows: int) -> float:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    import logging

    import dlt

    logging.getLogger("dlt").setLevel(logging.ERROR)  # its type-coercion notes are noise here
    from dlt.sources.sql_database import sql_table

    work = Path(tempfile.mkdtemp(prefix="petpro-bench-dlt-"))
    try:
        os.environ["DLT_DATA_DIR"] = str(work / "data")
        os.environ["DLT_PROJECT_DIR"] = str(work)
        pipeline = dlt.pipeline(
            pipeline_name="bench_extract",
            destination=dlt.destinations.filesystem(bucket_url=(work / "lake").as_uri()),
            dataset_name="raw",
            pipelines_dir=str(work / "pipelines"),
        )
        resource = sql_table(
            credentials=_sqlalchemy_url(url),
            table=PEER_TABLE,
            backend="pyarrow",
            chunk_size=50_000,
        )
        started = time.perf_counter()
        pipeline.run(resource, loader_file_format="parquet")
        return time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:,.0f} MB"


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(prog="bench_extract", description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=int(os.environ.get("PETPRO_BENCH_ACTIVITIES", 2_000_000))
    )
    parser.add_argument(
        "--large-rows",
        type=int,
        default=int(os.environ.get("PETPRO_BENCH_ACTIVITIES_LARGE", -1)),
        help="size of the second RSS measurement (default 2x --rows; 0 skips it)",
    )
    parser.add_argument(
        "--peer-rows", type=int, default=int(os.environ.get("PETPRO_BENCH_PEER_ROWS", 200_000))
    )
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args(argv)
    large = args.rows * 2 if args.large_rows < 0 else args.large_rows

    from sourcedb.server import EmbeddedServer

    home = _bench_home()
    home.mkdir(parents=True, exist_ok=True)
    settings = get_settings(home=home, source_port=_free_port(), source_database="postgres")
    server = EmbeddedServer(settings)
    server.start()
    try:

        def url_of(name: str) -> str:
            return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"

        url = _database(server.admin_url(), url_of, args.rows)
        total = _count(url, "activities")
        contract = CONTRACTS["activities"]
        plain = "select " + ", ".join(quote_ident(c.name) for c in contract.source_columns)
        plain += " from activities"
        ours_sql = select_sql(contract, order='"timestamp", id')
        print(f"\nactivities: {total:,} rows ({os.cpu_count()} CPUs)", flush=True)
        _limit(url, plain)  # warm the buffer cache once
        size, limit_s = _limit(url, plain)
        _, limit_ordered_s = _limit(url, ours_sql)
        limit = total / limit_s
        limit_ordered = total / limit_ordered_s
        print(
            f"limit   COPY binary, discarded        {limit:>12,.0f} rows/s ({size / 1e6:,.0f} MB)"
        )
        print(f"limit   same, our ORDER BY timestamp, id {limit_ordered:>9,.0f} rows/s")
        ours = _ours(url)
        ours_rate = ours["rows"] / ours["seconds"]
        print(
            f"ours    ingest_table(activities)      {ours_rate:>12,.0f} rows/s "
            f"({ours['seconds']:.1f} s, {ours['files']:,} files, {ours['bytes'] / 1e6:,.0f} MB; "
            f"quality on {ours['quality_sampled']:,} sampled rows +{ours['quality_seconds']:.1f} s)"
        )
        print(
            f"        ratio to limit: {ours_rate / limit:.2f}x plain, "
            f"{ours_rate / limit_ordered:.2f}x ordered (goal >= 0.6x)"
        )
        print(
            f"        peak RSS extracting {_mb(ours['peak_rss_extract'])}, with the GX quality "
            f"step {_mb(ours['peak_rss'])} (after imports {_mb(ours['base_rss'])}) "
            f"at {ours['rows']:,} rows"
        )
        if not args.skip_peers:
            peer_rows = min(args.peer_rows, total)
            _peer_table(url, peer_rows)
            pandas_rate = peer_rows / _pandas(url, peer_rows)
            print(
                f"pandas  read_sql + to_parquet         {pandas_rate:>12,.0f} rows/s "
                f"(on {peer_rows:,} rows) → ours is {ours_rate / pandas_rate:.1f}x"
            )
            try:
                dlt_rate = peer_rows / _dlt(url, peer_rows)
                print(
                    f"dlt     sql_table pyarrow → parquet   {dlt_rate:>12,.0f} rows/s "
                    f"(on {peer_rows:,} rows) → ours is {ours_rate / dlt_rate:.1f}x (goal >= 10x)"
                )
            except Exception as exc:  # a peer failing must not hide our figures
                print(f"dlt     failed: {type(exc).__name__}: {exc}")
        if large:
            big_url = _database(server.admin_url(), url_of, large)
            big = _ours(big_url)
            print(
                f"ours at {big['rows']:,} rows: {big['rows'] / big['seconds']:,.0f} rows/s, "
                f"peak RSS extracting {_mb(big['peak_rss_extract'])} (vs "
                f"{_mb(ours['peak_rss_extract'])} at {ours['rows']:,}; goal < 300 MB and flat), "
                f"with GX {_mb(big['peak_rss'])}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
