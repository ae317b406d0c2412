"""Benchmark of the lake's corruption check: page-checksum verification of every activity file.

Writes a synthetic activity lake with the real ``ParquetSink`` (contract schema, zstd, page
checksums; ``PETPRO_BENCH_VERIFY_ROWS`` rows, default 2,662,382, over 800 day partitions) in
a temporary directory, then times ``ingestion.integrity.corrupt_files`` twice: the fixed
cost every ingestion run of ``activities`` pays before extracting.
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
    from ingestion.integrity import corrupt_files
    from petpro.settings import get_settings

    rows = int(os.environ.get("PETPRO_BENCH_VERIFY_ROWS", "2662382"))
    days = 800
    with tempfile.TemporaryDirectory(prefix="petpro-bench-verify-") as home:
        _write_lake(home, rows, days)
        settings = get_settings(home=home, pii_key="bench")
        files = list((settings.raw_dir / "activities").rglob("*.parquet"))
        size = sum(p.stat().st_size for p in files)
        for attempt in (1, 2):
            started = time.perf_counter()
            bad = corrupt_files(settings, "activities")
            seconds = time.perf_counter() - started
            print(
                f"verify run {attempt}: {rows:,} rows in {len(files)} files ({size / 1e6:.0f} MB): "
                f"{seconds:.2f} s ({rows / seconds:,.0f} rows/s), {len(bad)} corrupt"
            )
