"""Corrupt lake files (flipped page bytes, truncated, zeroed) are detected, named and repaired."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from ingestion.run import run_ingestion
from petpro.settings import Settings
from tests.ingestion.oracles import assert_reconciled


def _damaged(path: Path) -> bool:
    """Independent oracle: does every page decode and match its CRC?"""
    try:
        pq.read_table(path, page_checksum_verification=True)
    except Exception:
        return True
    return False


def _lake_files(settings: Settings) -> list[Path]:
    return sorted(settings.raw_dir.rglob("*.parquet"))


def _flip_inside_a_data_page(path: Path) -> None:
    column = pq.read_metadata(path).row_group(0).column(0)
    offset = column.data_page_offset + column.total_compressed_size // 2
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_files_are_named_and_re_extracted(seeded: Settings, source_url: str) -> None:
    run_ingestion(seeded)
    users = seeded.raw_dir / "users" / "data.parquet"
    partitions = sorted((seeded.raw_dir / "activities").glob("event_date=*/data.parquet"))
    flipped, truncated, zeroed = partitions[0], partitions[1], partitions[2]
    _flip_inside_a_data_page(users)
    _flip_inside_a_data_page(flipped)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    zeroed.write_bytes(bytes(zeroed.stat().st_size))
    assert {p for p in _lake_files(seeded) if _damaged(p)} == {
        users,
        flipped,
        truncated,
        zeroed,
    }

    run = run_ingestion(seeded)
    named = {
        line.split(":")[0]
        for table in ("users", "activities")
        for line in run.tables[table].corrupt_files
    }
    assert named == {
        str(p.relative_to(seeded.lake_dir)) for p in (users, flipped, truncated, zeroed)
    }
    warnings = run.tables["activities"].quality.warnings
    assert any(str(truncated.relative_to(seeded.lake_dir)) in w for w in warnings)
    assert all("\n" not in w for w in warnings)
    record = json.loads(run.record_path.read_text())
    assert len(record["tables"]["activities"]["corrupt_files"]) == 3
    # Re-extracted from the source: the lake is whole again.
    assert not [p for p in _lake_files(seeded) if _damaged(p)]
    assert_reconciled(seeded, source_url)
