"""Arrow's pool in PetPro's processes: one that returns freed memory (petpro/arrow_memory.py).

pyarrow's own default is mimalloc, which kept ~50 MB of a refresh's freed extraction memory
for the rest of the run (docs/orchestration.md, "One dbt node at a time, and Arrow's memory
pool"). Each entry point is started as a real process here and asked which pool it allocates
from: the ``petpro`` command, and the Dagster code location (what a launched run's worker
loads). An operator's ``ARROW_DEFAULT_MEMORY_POOL`` wins.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from petpro.arrow_memory import POOL_ENV

REPO = Path(__file__).resolve().parents[2]
# mimalloc is pyarrow's default: the entry points must have replaced it.
RETURNING = {"jemalloc", "system"}

CLI = """
import atexit, sys
import pyarrow as pa
atexit.register(lambda: print("pool", pa.default_memory_pool().backend_name))
sys.argv = ["petpro", "--help"]
from cli.main import main
main()
"""

LOCATION = """
import pyarrow as pa
import orchestration.definitions
print("pool", pa.default_memory_pool().backend_name)
"""


def _pool(code: str, tmp_path: Path, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != POOL_ENV}
    env.update(PETPRO_HOME=str(tmp_path), **extra)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("pool ")]
    assert lines, proc.stdout[-2000:]
    return lines[-1].split()[1]


def test_pyarrow_default_is_what_the_entry_points_replace() -> None:
    """The premise: without PetPro's call, a fresh pyarrow allocates from mimalloc."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pyarrow as pa; print(pa.default_memory_pool().backend_name)",
        ],
        env={k: v for k, v in os.environ.items() if k != POOL_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "mimalloc"


@pytest.mark.parametrize("entry", [CLI, LOCATION], ids=["petpro command", "code location"])
def test_entry_points_allocate_from_a_returning_pool(entry: str, tmp_path: Path) -> None:
    assert _pool(entry, tmp_path) in RETURNING


def test_the_operators_pool_wins(tmp_path: Path) -> None:
    assert _pool(CLI, tmp_path, **{POOL_ENV: "mimalloc"}) == "mimalloc"
