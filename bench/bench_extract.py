"""Extraction throughput and memory: our activities extraction vs PostgreSQL's own limit and two peers.

On one seeded ``activities`` table of at least ``--rows`` (``PETPRO_BENCH_ACTIVITIES``,
default 2,000,000; databases are cached under ``PETPRO_BENCH_EXTRACT_HOME``, default
``$TMPDIR/petpro-bench-extract``, on a private embedded PostgreSQL) it measures, in rows/s:

* ``limit``: ``COPY (SELECT <contract columns>) TO STDOUT (FORMAT binary)`` read and
  discarded by psycopg: what PostgreSQL can produce, with no decoding or writing at all
  (plain; and with our ``ORDER BY timestamp, id``, for information);
* ``ours``: ``ingest_table(settings, "activities", full=True)`` into an empty lake
  (partitioning, pseudonymisation, row checks, zstd Parquet, fsync, atomic commits), in a
  fresh subprocess that reports its peak RSS while extracting and with the GX step;
* ``pandas`` (``read_sql`` + ``to_parquet``) and ``dlt`` (``sql_table``, pyarrow backend,
  Parquet files), and ours again, all three on the *same* ``--peer-rows`` rows
  (``PETPRO_BENCH_PEER_ROWS``, default 200,000: the peers are slow) copied into a schema of
  their own, which ours reads through ``search_path``.

Every measurement is repeated ``--repeats`` times (default 3), interleaved (limit, ours,
peers, large, then again), and every figure printed is the median; a ratio is the median of
the per-round ratios (each round's figures were taken minutes apart, under the same load).
The 1-minute load average is printed beside each figure: on a shared machine absolute speeds
say little, the ratios are what carries. Peak RSS is measured at ``--rows`` and at
``--large-rows`` (``PETPRO_BENCH_ACTIVITIES_LARGE``, default 5x; 0 skips it). With
``--compare-tree PATH`` (a checkout of another version, e.g. from ``git archive``) the
extraction of that tree is measured too, in the same rounds: before/after figures from one
run. Ends with one line per goal: figure, ratio to the goal, ``pass`` or ``short``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from ingestion.contracts import CONTRACTS
from ingestion.extract import quote_ident, select_sql
from petpro.settings import get_settings

ACTIVITIES_PER_CUSTOMER = 46  # what the seed produces over 540 days (measured: ~47)
PEER_SCHEMA = "bench_peer"
REPO = Path(__file__).resolve().parent.parent
RATIO_GOAL = 0.6
RSS_GOAL_MB = 300
DLT_GOAL = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bench_home() -> Path:
    default = Path(tempfile.gettempdir()) / "petpro-bench-extract"
    return Path(os.environ.get("PETPRO_BENCH_EXTRACT_HOME", default)).resolve()


def _load() -> float:
    return os.getloadavg()[0]


def _database(server_admin: str, url_of: Callable[[str], str], rows: int) -> str:
    """URL of a database holding at least ``rows`` activities (seeded once, then reused)."""
    from sourcedb.seed import seed_source

    name = f"acts_{rows}"
    with psycopg.connect(server_admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            conn.execute(f"create database {name}")
    url = url_of(name)
    with psycopg.connect(url) as conn:
        exists = conn.execute("select to_regclass('public.activities')").fetchone()[0]
        have = conn.execute("select count(*) from public.activities").fetchone()[0] if exists else 0
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


def _count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def _limit(url: str, sql: str) -> float:
    started = time.perf_counter()
    with (
        psycopg.connect(url) as conn,
        conn.cursor().copy(f"copy ({sql}) to stdout (format binary)") as copy,
    ):
        for _ in copy:
            pass
    return time.perf_counter() - started


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

    import ingestion.quality_worker
    from ingestion.run import ingest_table
    from petpro.arrow_memory import use_returning_pool

    use_returning_pool()  # as the `petpro` command and the code location do
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
    validate = ingestion.quality_worker.validate

    def validate_phase(*args: object, **kwargs: object) -> object:
        phase["name"] = "quality"  # extraction is done: GX imports count separately
        return validate(*args, **kwargs)

    ingestion.quality_worker.validate = validate_phase  # type: ignore[assignment]
    result = ingest_table(settings, "activities", full=True)
    stop.set()
    watcher.join()
    print(
        json.dumps(
            {
                "rows": result.rows + result.rejected,
                "seconds": result.seconds,
                "quality_seconds": result.quality_seconds,
                "files": result.files,
                "bytes": result.bytes,
                "base_rss": base,
                "peak_rss": max(peak["all"], _vm_hwm()),
                "peak_rss_extract": peak["extract"],
            }
        )
    )


def _ours(url: str, tree: Path = REPO) -> dict[str, Any]:
    """Our extraction in a fresh process (of ``tree``'s code), with the load around it."""
    home = Path(tempfile.mkdtemp(prefix="petpro-bench-lake-"))
    load = _load()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_extract", "--child", url, str(home)],
            capture_output=True,
            text=True,
            check=True,
            cwd=tree,
        )
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"extraction of {tree} failed:\n{exc.stderr}") from exc
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["load"] = (load + _load()) / 2
    return figures


def _peer_schema(url: str, rows: int) -> str:
    """A schema holding the first ``rows`` activities (every source column) and a view of
    the users; returns the URL whose ``search_path`` makes ours read them."""
    columns = ", ".join(
        quote_ident(c.name) for c in (*CONTRACTS["activities"].columns, *_transient())
    )
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select to_regclass(%s)", (f"{PEER_SCHEMA}.activities",)).fetchone()[
            0
        ]
        if not exists or _count(url, f"{PEER_SCHEMA}.activities") != rows:
            conn.execute(f"drop schema if exists {PEER_SCHEMA} cascade")
            conn.execute(f"create schema {PEER_SCHEMA}")
            conn.execute(
                f"create table {PEER_SCHEMA}.activities as select {columns} from public.activities "
                f'order by "timestamp", id limit {rows}'
            )
            conn.execute(f"alter table {PEER_SCHEMA}.activities add primary key (id)")
            conn.execute(f'create index on {PEER_SCHEMA}.activities ("timestamp")')
            conn.execute(f"create view {PEER_SCHEMA}.users as select * from public.users")
            conn.execute(f"analyze {PEER_SCHEMA}.activities")
    return f"{url}?options=-csearch_path%3D{PEER_SCHEMA},public"


def _transient() -> tuple[Any, ...]:
    return CONTRACTS["activities"].transient


def _sqlalchemy_url(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url.split("?")[0])
    return (
        f"postgresql+psycopg://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:"
        f"{info.get('port', 5432)}/{info['dbname']}"
    )


def _pandas(url: str) -> float:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(_sqlalchemy_url(url))
    out = Path(tempfile.mkdtemp(prefix="petpro-bench-pandas-"))
    try:
        started = time.perf_counter()
        frame = pd.read_sql(f"select * from {PEER_SCHEMA}.activities", engine)
        frame.to_parquet(out / "activities.parquet", compression="zstd")
        return time.perf_counter() - started
    finally:
        engine.dispose()
        shutil.rmtree(out, ignore_errors=True)


def _dlt(url: str) -> float:
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")  # its type-coercion notes are noise
    import dlt
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
            table="activities",
            schema=PEER_SCHEMA,
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


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Figures:
    """Per-round measurements of one quantity (value, load) and their medians."""

    def __init__(self) -> None:
        self.rounds: list[tuple[float, float]] = []

    def add(self, value: float, load: float) -> None:
        self.rounds.append((value, load))

    @property
    def value(self) -> float:
        return _median([v for v, _ in self.rounds])

    @property
    def load(self) -> float:
        return _median([load for _, load in self.rounds])

    def values(self) -> str:
        return ", ".join(f"{v:,.0f}" for v, _ in self.rounds)


def _ratio(top: Figures, bottom: Figures) -> float:
    """Median of the per-round ratios."""
    return _median([a / b for (a, _), (b, _) in zip(top.rounds, bottom.rounds, strict=False)])


def _verdict(ok: bool) -> str:
    return "pass" if ok else "short"


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return
    parser = argparse.ArgumentParser(
        prog="python -m bench extract",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rows", type=int, default=int(os.environ.get("PETPRO_BENCH_ACTIVITIES", 2_000_000))
    )
    parser.add_argument(
        "--large-rows",
        type=int,
        default=int(os.environ.get("PETPRO_BENCH_ACTIVITIES_LARGE", -1)),
        help="size of the second RSS measurement (default 5x --rows; 0 skips it)",
    )
    parser.add_argument(
        "--peer-rows", type=int, default=int(os.environ.get("PETPRO_BENCH_PEER_ROWS", 200_000))
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds (>= 3)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--compare-tree",
        type=Path,
        help="another checkout whose extraction is measured in the same rounds (before/after)",
    )
    parser.add_argument(
        "--compare-large",
        action="store_true",
        help="measure the other checkout at --large-rows too (slow)",
    )
    args = parser.parse_args(argv)
    large = args.rows * 5 if args.large_rows < 0 else args.large_rows
    trees = {"ours": REPO}
    if args.compare_tree:
        trees[f"ours@{args.compare_tree.name}"] = args.compare_tree.resolve()

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
        big_url = _database(server.admin_url(), url_of, large) if large else None
        total = _count(url, "public.activities")
        big_total = _count(big_url, "public.activities") if big_url else 0
        peer_rows = min(args.peer_rows, total)
        peer_url = _peer_schema(url, peer_rows) if not args.skip_peers else None
        contract = CONTRACTS["activities"]
        plain = "select " + ", ".join(quote_ident(c.name) for c in contract.source_columns)
        plain += " from public.activities"
        ordered = select_sql(contract, order='"timestamp", id').replace(
            " from ", " from public.", 1
        )
        print(
            f"\nactivities: {total:,} rows (large: {big_total:,}; peers: {peer_rows:,}); "
            f"{os.cpu_count()} CPUs; {args.repeats} interleaved rounds, medians",
            flush=True,
        )
        _limit(url, plain)  # warm the buffer cache once
        limit, limit_ordered = Figures(), Figures()
        ours = {name: Figures() for name in trees}
        rss = {name: Figures() for name in trees}
        rss_all = {name: Figures() for name in trees}
        big = {name: Figures() for name in trees}
        big_rate = {name: Figures() for name in trees}
        pandas_rate, dlt_rate, ours_peer = Figures(), Figures(), Figures()
        for round_ in range(1, args.repeats + 1):
            print(f"round {round_}/{args.repeats} (load {_load():.1f})", flush=True)
            load = _load()
            limit.add(total / _limit(url, plain), (load + _load()) / 2)
            load = _load()
            limit_ordered.add(total / _limit(url, ordered), (load + _load()) / 2)
            print(f"  limit {limit.rounds[-1][0]:,.0f} rows/s (load {limit.rounds[-1][1]:.1f})")
            for name, tree in trees.items():
                run = _ours(url, tree)
                print(f"  {name}: {json.dumps(run)}", flush=True)
                ours[name].add(run["rows"] / run["seconds"], run["load"])
                rss[name].add(run["peak_rss_extract"], run["load"])
                rss_all[name].add(run["peak_rss"], run["load"])
            if peer_url:
                run = _ours(peer_url)
                print(f"  ours on peer rows: {json.dumps(run)}", flush=True)
                ours_peer.add(run["rows"] / run["seconds"], run["load"])
                load = _load()
                pandas_rate.add(peer_rows / _pandas(url), (load + _load()) / 2)
                load = _load()
                try:
                    dlt_rate.add(peer_rows / _dlt(url), (load + _load()) / 2)
                    print(
                        f"  pandas {pandas_rate.rounds[-1][0]:,.0f} rows/s, "
                        f"dlt {dlt_rate.rounds[-1][0]:,.0f} rows/s",
                        flush=True,
                    )
                except Exception as exc:  # a peer failing must not hide our figures
                    print(f"dlt failed: {type(exc).__name__}: {exc}")
            if big_url:
                for name, tree in trees.items():
                    if tree != REPO and not args.compare_large:
                        continue
                    run = _ours(big_url, tree)
                    print(f"  {name} large: {json.dumps(run)}", flush=True)
                    big[name].add(run["peak_rss_extract"], run["load"])
                    big_rate[name].add(run["rows"] / run["seconds"], run["load"])

        def line(label: str, figures: Figures, unit: str = "rows/s", note: str = "") -> None:
            value = _mb(figures.value) if unit == "MB" else f"{figures.value:,.0f} {unit}"
            print(f"{label:<44} {value:>16}  (load {figures.load:4.1f}) {note}")

        print()
        line("limit: COPY binary, discarded", limit, note=f"[{limit.values()}]")
        line("limit: same, ORDER BY timestamp, id", limit_ordered)
        for name in trees:
            line(
                f"{name}: ingest_table(activities, full)",
                ours[name],
                note=f"[{ours[name].values()}]",
            )
            line(f"{name}: peak RSS extracting", rss[name], "MB")
            line(f"{name}: peak RSS with the GX step", rss_all[name], "MB")
            if big_url and big[name].rounds:
                line(f"{name}: peak RSS extracting {big_total:,}", big[name], "MB")
                line(f"{name}: rate at {big_total:,}", big_rate[name])
        if peer_url:
            line(f"ours on the {peer_rows:,} peer rows", ours_peer)
            line("pandas read_sql + to_parquet, same rows", pandas_rate)
            if dlt_rate.rounds:
                line("dlt sql_table pyarrow → parquet, same rows", dlt_rate)

        print(f"\n{'goal':<48} {'figure':>16} {'ratio':>9}  verdict")
        for name in trees:
            ratio = _ratio(ours[name], limit)
            print(
                f"{name + ': extraction >= 0.6x the COPY limit':<48} "
                f"{ours[name].value:>11,.0f} r/s {ratio:>8.2f}x  {_verdict(ratio >= RATIO_GOAL)}"
                f"  (ordered limit: {_ratio(ours[name], limit_ordered):.2f}x; load {ours[name].load:.1f})"
            )
            peak = rss[name].value / 1024 / 1024
            print(
                f"{name + f': peak RSS <= {RSS_GOAL_MB} MB at {total:,}':<48} "
                f"{peak:>13,.0f} MB {peak / RSS_GOAL_MB:>8.2f}x  {_verdict(peak <= RSS_GOAL_MB)}"
            )
            if big_url and big[name].rounds:
                large_peak = big[name].value / 1024 / 1024
                growth = large_peak / peak
                print(
                    f"{name + f': peak RSS <= {RSS_GOAL_MB} MB, flat to {big_total:,}':<48} "
                    f"{large_peak:>13,.0f} MB {growth:>8.2f}x  "
                    f"{_verdict(large_peak <= RSS_GOAL_MB and growth <= 1.1)}"
                    "  (ratio: large/main; flat = within 10 %)"
                )
        if peer_url:
            print(
                f"{'ours vs pandas on the same rows':<48} {ours_peer.value:>11,.0f} r/s "
                f"{_ratio(ours_peer, pandas_rate):>8.1f}x  (information)"
            )
            if dlt_rate.rounds:
                ratio = _ratio(ours_peer, dlt_rate)
                print(
                    f"{'ours >= 10x dlt on the same rows':<48} {ours_peer.value:>11,.0f} r/s "
                    f"{ratio:>8.1f}x  {_verdict(ratio >= DLT_GOAL)}"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
