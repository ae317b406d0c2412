"""Seeding throughput: how fast ``seed_source`` fills an empty PostgreSQL (rows/s).

Starts a private embedded PostgreSQL in a temporary directory (or uses
``PETPRO_BENCH_SOURCE_URL``), seeds ``PETPRO_BENCH_SEED_CUSTOMERS`` customers (default 16,000,
about one million activities) over ``PETPRO_BENCH_SEED_DAYS`` days (default 540) and prints
the rows per second overall and for activities. Target: one million activities in under 30 s
on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time
from pathlib import Path

import psycopg

from petpro.settings import get_settings
from sourcedb.schema import create_schema, truncate_all
from sourcedb.seed import seed_source
from sourcedb.server import EmbeddedServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(url: str, customers: int, days: int, seed: int) -> None:
    with psycopg.connect(url) as conn:
        create_schema(conn)
        truncate_all(conn)
    started = time.perf_counter()
    summary = seed_source(url, customers=customers, days=days, seed=seed, reset=True)
    wall = time.perf_counter() - started
    activities = summary.rows["activities"]
    print(f"customers={customers:,} days={days} seed={seed}")
    for table, count in summary.rows.items():
        print(f"  {table:<15} {count:>12,}")
    print(
        f"total {summary.total_rows:,} rows in {wall:.1f} s "
        f"(generate {summary.generate_seconds:.1f} s, load+index {summary.load_seconds:.1f} s)"
    )
    print(f"seed throughput: {summary.total_rows / wall:,.0f} rows/s")
    print(f"activities: {activities:,} in {wall:.1f} s = {activities / wall:,.0f} activities/s")
    print(f"1M activities would take {1_000_000 * wall / max(activities, 1):.1f} s (target < 30 s)")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_seed", description=__doc__)
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("PETPRO_BENCH_SEED_CUSTOMERS", 16_000))
    )
    parser.add_argument(
        "--days", type=int, default=int(os.environ.get("PETPRO_BENCH_SEED_DAYS", 540))
    )
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    url = os.environ.get("PETPRO_BENCH_SOURCE_URL")
    if url:
        _run(url, args.customers, args.days, args.seed)
        return
    with tempfile.TemporaryDirectory(prefix="petpro_bench_seed_") as tmp:
        settings = get_settings(
            home=Path(tmp), source_port=_free_port(), source_database="bench_seed"
        )
        server = EmbeddedServer(settings)
        server.start()
        try:
            _run(server.url, args.customers, args.days, args.seed)
        finally:
            server.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
