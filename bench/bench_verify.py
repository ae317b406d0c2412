"""Benchmark of the lake's corruption check, as each ingestion run of ``activities`` pays it.

Writes a synthetic activity lake with the real ``ParquetSink`` (contract schema, zstd, page
checksums; ``PETPRO_BENCH_VERIFY_ROWS`` rows, default 2,662,382, over 800 day partitions) in
a temporary directory, then times ``ingestion.integrity.verify_table`` in three situations,
interleaved over ``--repeats`` rounds (default 3), medians printed with the load average:

* ``no records``: files ingestion has no fingerprint of (written by an older version, or
  copied in): every page of every file decoded against its CRC (what every run paid before);
* ``routine``: every file unchanged since recorded: one ``stat`` per file;
* ``--verify-all``: every file hashed (SHA-256) and compared with its record.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date, timedelta

import numpy as np
import pyarrow as pa


def _write_lake(home: str, rows: int, days: int) -> None:
    from ingestion import lake
    from ingestion.contracts import CONTRACTS
    from ingestion.extract import uuid_text
    from petpro.settings import get_settings

    settings = get_settings(home=home, pii_key="bench")
    schema = CONTRACTS["activities"].lake_schema()
    rng = np.random.default_rng(1)

    def uuids(n: int) -> pa.Array:
        raw = pa.py_buffer(rng.bytes(16 * n))
        return uuid_text(pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, raw]))

    users = uuids(5000)
    types = pa.array(["login", "logout", "booking_created", "page_view", "search"])
    per = rows // days
    for d in range(days):
        day = date(2024, 6, 1) + timedelta(days=d)
        base = np.datetime64(day, "us").astype(np.int64)
        ts = pa.array(
            np.sort(base + rng.integers(0, 86_400_000_000, per)), schema.field("timestamp").type
        )
        columns = {
            "id": uuids(per),
            "user_id": users.take(pa.array(rng.integers(0, 5000, per))),
            "type": types.take(pa.array(rng.integers(0, 5, per))),
            "description": pa.array(["did something"] * per),
            "metadata": pa.array(['{"bookingId": "b", "amount": "12.50"}'] * per),
            "timestamp": ts,
            "created_at": ts,
            "updated_at": ts,
            "ip_hash": pa.array([f"{x:064x}" for x in rng.integers(0, 2**62, per)]),
            "ip_network": pa.array(["203.0.113.0/24"] * per),
            "device_type": pa.array(["mobile"] * per),
            "os_family": pa.array(["iOS"] * per),
            "browser_family": pa.array(["Mobile Safari"] * per),
        }
        path = lake.partition_dir(settings, "activities", day) / lake.DATA_FILE
        with lake.sink(path, schema) as out:
            out.write(pa.table([columns[f.name] for f in schema], schema=schema))
            out.close()


def main(argv: list[str]) -> None:
    import argparse
    import statistics

    from ingestion.integrity import manifest_path, verify_table
    from petpro.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m bench verify", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rows", type=int, default=int(os.environ.get("PETPRO_BENCH_VERIFY_ROWS", "2662382"))
    )
    args = parser.parse_args(argv)
    rows, days = args.rows, 800
    with tempfile.TemporaryDirectory(prefix="petpro-bench-verify-") as home:
        _write_lake(home, rows, days)
        settings = get_settings(home=home, pii_key="bench")
        files = list((settings.raw_dir / "activities").rglob("*.parquet"))
        size = sum(p.stat().st_size for p in files)
        print(f"{rows:,} rows in {len(files)} files ({size / 1e6:.0f} MB)")
        timings: dict[str, list[tuple[float, float]]] = {}
        kinds = {"no records": False, "routine": False, "--verify-all": True}
        for _ in range(args.repeats):
            for kind, verify_all in kinds.items():
                if kind == "no records":
                    manifest_path(settings, "activities").unlink(missing_ok=True)
                load = os.getloadavg()[0]
                started = time.perf_counter()
                found, _ = verify_table(settings, "activities", verify_all=verify_all)
                seconds = time.perf_counter() - started
                assert not found.corrupt
                timings.setdefault(kind, []).append((seconds, (load + os.getloadavg()[0]) / 2))
        base = statistics.median(s for s, _ in timings["no records"])
        for kind, values in timings.items():
            seconds = statistics.median(s for s, _ in values)
            load = statistics.median(load for _, load in values)
            print(
                f"verify, {kind:<13} {seconds:7.3f} s  ({base / seconds:6.1f}x faster than no "
                f"records; load {load:.1f}; rounds: {', '.join(f'{s:.3f}' for s, _ in values)})"
            )
