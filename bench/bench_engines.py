"""Benchmark of the two engines on the same lake: DuckDB versus Spark (local mode).

For each size a synthetic lake with the contract's layout is written once (``bench_dbt``'s
writer), copied into one home per engine, and each engine runs the same steps the nightly
refresh runs: ``dbt run --full-refresh`` (every model), then the publication (for Spark this
includes loading its Parquet marts into ``build.duckdb``), then one more day of activities
and a one-day incremental ``dbt run`` (``--vars min_date=max_date``). Spark runs with the
session method and the settings of ``PETPRO_SPARK_*`` (default ``local[2]``, 2 GB driver):
on one machine it measures Spark's overhead, not a cluster's throughput.

Sizes: ``PETPRO_BENCH_ENGINES_SIZES`` (comma-separated activity counts, default
``1000000,10000000``), ``PETPRO_BENCH_DBT_DAYS`` (default 365). ``python -m bench engines``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.bench_dbt import write_lake
from petpro.settings import Settings, get_settings

ENGINES = ("duckdb", "spark")


def _timed_refresh(settings: Settings, days: int, activities: int) -> dict[str, float]:
    from warehouse.dbt import run_dbt
    from warehouse.publish import publish

    times: dict[str, float] = {}
    full = run_dbt(settings, ["run", "--full-refresh"], capture=True)
    times["full build"] = full.elapsed
    started = time.perf_counter()
    publish(settings, run_id=f"bench-{settings.engine}")
    times["publish"] = time.perf_counter() - started
    day, _ = write_lake(settings.home, activities, days, extra_day=True)
    inc = run_dbt(
        settings, ["run"], vars={"min_date": str(day), "max_date": str(day)}, capture=True
    )
    times["one-day incremental"] = inc.elapsed
    return times


def main(argv: list[str]) -> None:
    sizes_env = os.environ.get("PETPRO_BENCH_ENGINES_SIZES", "1000000,10000000")
    sizes = [int(s) for s in (argv or sizes_env.split(",")) if str(s).strip()]
    days = int(os.environ.get("PETPRO_BENCH_DBT_DAYS", "365"))
    root = Path(tempfile.mkdtemp(prefix="petpro-bench-engines-"))
    results: list[tuple[int, str, dict[str, float]]] = []
    try:
        for activities in sizes:
            lake_home = root / f"lake-{activities}"
            t0 = time.perf_counter()
            _, customers = write_lake(lake_home, activities, days)
            print(
                f"lake: {activities:,} activities, {customers:,} customers, {days} days "
                f"({time.perf_counter() - t0:.1f} s to write)",
                flush=True,
            )
            for engine in ENGINES:
                home = root / f"{engine}-{activities}"
                shutil.copytree(lake_home / "lake", home / "lake")
                settings = get_settings(home=home, timezone="UTC", engine=engine)
                times = _timed_refresh(settings, days, activities)
                results.append((activities, engine, times))
                print(
                    f"  {engine:6s} "
                    + "  ".join(f"{step}: {seconds:6.1f} s" for step, seconds in times.items()),
                    flush=True,
                )
                shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(lake_home, ignore_errors=True)
        print("\n| activities | engine | full build | publish | one-day incremental |")
        print("|---:|---|---:|---:|---:|")
        for activities, engine, times in results:
            print(
                f"| {activities:,} | {engine} | {times['full build']:.1f} s | "
                f"{times['publish']:.1f} s | {times['one-day incremental']:.1f} s |"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
