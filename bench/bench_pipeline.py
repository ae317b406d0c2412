"""End-to-end pipeline through Dagster: full rebuild vs nightly incremental refresh.

Starts a private embedded PostgreSQL in a temporary directory (or uses
``PETPRO_BENCH_SOURCE_URL``, which must be empty or hold a previous seed whose history ends
before the first day simulated), seeds ``PETPRO_BENCH_PIPELINE_CUSTOMERS`` customers (default
4,000, about 250,000 activities) over ``PETPRO_BENCH_PIPELINE_DAYS`` days (default 540),
ending ``--runs`` days before yesterday, then times, through the real Dagster jobs run in
process (``orchestration.runner``), ``--runs`` interleaved rounds (default 3, or
``PETPRO_BENCH_PIPELINE_RUNS``) of:

1. ``full_rebuild`` — every table re-extracted, dbt ``--full-refresh``, publication;
2. ``simulate_day`` + ``nightly`` refresh of a new day (incremental ingestion, dbt on the
   day's window plus ``late_days``, publication). Round n simulates the n-th of the days
   after the seed's history, the last round yesterday: whole days, whatever the hour (today's
   would be cut at the current time, since the simulator never writes the future, so a run at
   03:00 would time a nightly refresh of an eighth of a day). Each round's full rebuild holds
   the days simulated before it (one day in 540 more per round).

For each run it prints the wall time, the time of the ingestion steps (and, inside them, the
extraction time the library reports), of the dbt step and of the publication step, and the
**Dagster overhead** = wall − ingestion − dbt − publication steps (definitions already loaded:
run start, planning, the instance's event writes between steps); then each figure's median
over the rounds. Then it times ``--runs`` real ``petpro refresh`` processes with no new data
(CLI start included; each must print ``nothing new since publication``) and ``--runs`` real
``petpro refresh --intraday`` processes, each after inserting one activity. Goals, each
printed as a ``GOAL`` line with its figure (a median), ratio and verdict: nightly ≤ 10 % of
full (the median of the rounds' ratios), peak RSS of a refresh ≤ 1 GB, Dagster overhead < 5 s
per run (the larger of the round's two), no-op refresh ≤ 15 s, intraday ≤ 120 s. Peak RSS is
summed over a process tree at one moment (:mod:`bench.tree_memory`). The goal line reads the
real ``petpro refresh --intraday`` process and its dbt child; the full and nightly figures,
printed too, include this benchmark's own process, which still holds the seeding's and the
definitions' memory. The issue's scale (≥ 20 M activities) is about 320,000 customers over
540 days: ``PETPRO_BENCH_PIPELINE_CUSTOMERS=320000 make bench`` (needs ~10 GB of disk; three
rounds took 44 minutes on 2 cores on 2026-12-04 from a seeded source, and seeding 6 more).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.goals import add_runs_option, goal
from bench.tree_memory import TreePeak
from petpro.settings import REPO_ROOT, get_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _breakdown(summary: Any) -> dict[str, float]:
    # Steps run one after another (in-process executor), so their durations add up.
    ingestion = summary.step_seconds(lambda k: k.startswith("raw__"))
    library = sum(
        float(meta.get("seconds", 0.0))
        for key, meta in summary.materializations.items()
        if key.startswith("raw/")
    )
    dbt = summary.step_seconds(lambda k: k.startswith("dbt_"))
    publish = summary.step_seconds(lambda k: k.startswith("published_warehouse"))
    return {
        "wall": summary.seconds,
        "ingestion": ingestion,
        "extract": library,
        "dbt": dbt,
        "publish": publish,
        "overhead": summary.seconds - ingestion - dbt - publish,
    }


def _print_memory(name: str, peak: TreePeak) -> None:
    print(
        f"{name:<16} peak RSS {peak.bytes / 1e6:,.0f} MB, the whole process tree at one "
        f"moment (largest process {peak.largest / 1e6:,.0f} MB; the tree held "
        f"{peak.start_bytes / 1e6:,.0f} MB when the run started)",
        flush=True,
    )


def _print(name: str, parts: dict[str, float]) -> None:
    print(
        f"{name:<16} wall {parts['wall']:7.1f} s | ingestion {parts['ingestion']:6.1f} s "
        f"(extract {parts['extract']:.1f} s) | "
        f"dbt {parts['dbt']:6.1f} s | publish {parts['publish']:5.1f} s | "
        f"Dagster overhead {parts['overhead']:5.1f} s",
        flush=True,
    )


def _median_parts(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each part's median over the rounds (so the medians need not add up to the wall's)."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}


def _bench(url: str, home: Path, customers: int, days: int, runs: int) -> None:
    from orchestration.location import build_definitions
    from orchestration.partitions import activity_partitions
    from orchestration.runner import instance_for, refresh
    from sourcedb import clock
    from sourcedb.schema import create_schema
    from sourcedb.seed import is_empty, seed_source
    from sourcedb.simulate import SimulateError, simulate_day

    os.environ["PETPRO_HOME"] = str(home)
    os.environ["PETPRO_SOURCE_URL"] = url
    os.environ.setdefault("PETPRO_PII_KEY", "bench-pii-key")
    settings = get_settings()
    yesterday = clock.today_in(settings.timezone) - timedelta(days=1)
    # One new whole day per round, the last one yesterday: the seed ends the day before the first.
    new_days = [yesterday - timedelta(days=runs - n) for n in range(1, runs + 1)]
    with psycopg.connect(url) as conn:
        create_schema(conn)
        empty = is_empty(conn)
    if empty:
        started = time.perf_counter()
        seed = seed_source(
            url,
            customers=customers,
            days=days,
            end_date=new_days[0] - timedelta(days=1),
            timezone=settings.timezone,
        )
        print(
            f"seeded {seed.rows['activities']:,} activities, {customers:,} customers, {days} days "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
    started = time.perf_counter()
    defs = build_definitions(settings)
    instance = instance_for(settings)
    print(f"definitions + instance loaded in {time.perf_counter() - started:.1f} s", flush=True)

    fulls: list[dict[str, float]] = []
    nightlies: list[dict[str, float]] = []
    ratios: list[float] = []
    overheads: list[float] = []
    for n, new_day in enumerate(new_days, start=1):
        with TreePeak() as full_memory:
            full = refresh(settings, full=True, defs=defs, instance=instance)
        fulls.append(_breakdown(full) | {"peak_mb": full_memory.bytes / 1e6})
        _print(f"{n}: full_rebuild", fulls[-1])
        _print_memory(f"{n}: full_rebuild", full_memory)
        try:
            day = simulate_day(url, day=new_day, timezone=settings.timezone)
        except SimulateError as exc:
            raise SystemExit(
                f"bench pipeline: cannot simulate the nightly's new day: {exc}. "
                f"PETPRO_BENCH_SOURCE_URL must name a source whose history ends before "
                f"{new_days[0]} ({runs} rounds, one new day each)."
            ) from exc
        print(f"{n}: simulated {day.day}: {sum(day.inserts.values()):,} new rows", flush=True)
        last = activity_partitions(settings).get_last_partition_key()
        key = min(day.day.isoformat(), last or day.day.isoformat())
        with TreePeak() as nightly_memory:
            nightly = refresh(settings, day=date.fromisoformat(key), defs=defs, instance=instance)
        nightlies.append(_breakdown(nightly) | {"peak_mb": nightly_memory.bytes / 1e6})
        _print(f"{n}: nightly", nightlies[-1])
        _print_memory(f"{n}: nightly", nightly_memory)
        ratios.append(nightlies[-1]["wall"] / fulls[-1]["wall"])
        overheads.append(max(fulls[-1]["overhead"], nightlies[-1]["overhead"]))
        print(f"{n}: nightly / full {ratios[-1]:.1%}; load average {_load()}", flush=True)
    full_m, nightly_m = _median_parts(fulls), _median_parts(nightlies)
    print(f"medians of {runs} interleaved rounds:", flush=True)
    _print("full_rebuild", full_m)
    _print("nightly", nightly_m)
    print(
        f"peak RSS of this process tree (the benchmark's own process included): full "
        f"{full_m['peak_mb']:,.0f} MB, nightly {nightly_m['peak_mb']:,.0f} MB",
        flush=True,
    )
    ratio = statistics.median(ratios)
    overhead = statistics.median(overheads)
    noop = [_noop_refresh() for _ in range(runs)]
    noop_median = statistics.median(noop)
    print(
        f"no-op `petpro refresh` (CLI start included), {runs} runs: "
        + ", ".join(f"{s:.1f} s" for s in noop),
        flush=True,
    )
    intraday = [_intraday_latency(url, settings) for _ in range(runs)]
    latency = statistics.median(seconds for seconds, _ in intraday)
    process_peak = statistics.median(peak for _, peak in intraday)
    print(f"load average {_load()}", flush=True)
    goal("nightly refresh / full rebuild", ratio, 0.10, f"{ratio:.1%}", "≤ 10 %")
    goal(
        "peak RSS of a `petpro refresh` process tree (intraday run)",
        process_peak / 1e9,
        1.0,
        f"{process_peak / 1e6:,.0f} MB",
        "≤ 1 GB",
    )
    goal("Dagster overhead per run", overhead / 5.0, 1.0, f"{overhead:.1f} s", "< 5 s")
    goal("no-op refresh, CLI included", noop_median / 15.0, 1.0, f"{noop_median:.1f} s", "≤ 15 s")
    goal(
        "intraday: insertion → published (petpro refresh --intraday)",
        latency / 120.0,
        1.0,
        f"{latency:.1f} s",
        "≤ 120 s",
    )


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _intraday_latency(url: str, settings: Any) -> tuple[float, int]:
    """Seconds from inserting one activity (now) in the source to the publication holding it,
    and the peak RSS of that real ``petpro refresh --intraday`` process and its children.

    The activity is inserted, then ``petpro refresh --intraday`` runs as a real process, then
    the published activity log (``mart_customer_activity_log``, what the API's activity
    endpoints read) is checked for its id. The intraday sensor's 5-minute tick would come on
    top of this when the sensor, not a person, starts the micro-batch."""
    from petpro.publication import open_current

    with psycopg.connect(url) as conn:
        (activity_id,) = conn.execute(
            "insert into activities (user_id, type, description, metadata, ip_address, "
            'user_agent, "timestamp", created_at) '
            "select user_id, type, description, metadata, ip_address, user_agent, now(), now() "
            'from activities order by "timestamp" desc limit 1 returning id'
        ).fetchone()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "refresh", "--intraday"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreePeak(pid=proc.pid) as memory:
        stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"petpro refresh --intraday failed:\n{stdout}\n{stderr}")
    with open_current(settings.published_dir) as pub:
        found = pub.con.execute(
            "select count(*) from mart_customer_activity_log where activity_id = ?",
            [str(activity_id)],
        ).fetchone()[0]
    if not found:
        raise SystemExit(f"activity {activity_id} is not in the publication after --intraday")
    print(f"intraday micro-batch: activity {activity_id} published after {seconds:.1f} s")
    _print_memory("intraday_refresh", memory)
    return seconds, memory.bytes


def _noop_refresh() -> float:
    """Wall time of one real ``petpro refresh`` process with no new data (must skip)."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "cli", "refresh"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0 or "nothing new since publication" not in proc.stdout:
        raise SystemExit(f"the no-op refresh did not skip:\n{proc.stdout}\n{proc.stderr}")
    return seconds


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pipeline", description=__doc__)
    add_runs_option(parser, "full rebuild + nightly", "PETPRO_BENCH_PIPELINE_RUNS")
    args = parser.parse_args(argv)
    customers = int(os.environ.get("PETPRO_BENCH_PIPELINE_CUSTOMERS", "4000"))
    days = int(os.environ.get("PETPRO_BENCH_PIPELINE_DAYS", "540"))
    external = os.environ.get("PETPRO_BENCH_SOURCE_URL")
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="petpro-bench-pipeline-") as tmp:
        try:
            if external:
                _bench(external, Path(tmp) / "home", customers, days, args.runs)
                return
            from sourcedb.server import EmbeddedServer

            pg = get_settings(
                home=Path(tmp) / "pg_home", source_port=_free_port(), source_database="bench"
            )
            server = EmbeddedServer(pg)
            url = server.start()
            try:
                _bench(url, Path(tmp) / "home", customers, days, args.runs)
            finally:
                server.stop()
        finally:
            os.environ.clear()
            os.environ.update(saved)


if __name__ == "__main__":
    main(sys.argv[1:])
