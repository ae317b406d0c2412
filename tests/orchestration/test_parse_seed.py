"""Which saved parse a dbt step starts from, checked with real ``dbt parse`` runs.

After a change of the profile (or of ``dbt_project.yml``), ``ensure_partial_parse`` parses
the project afresh while the last run's parse, kept per vars, still describes the project as
it was. The step must start from the fresh one: dbt then re-uses it; from the old one it
parses the whole project a second time.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orchestration.defs.warehouse import parse_seed
from orchestration.manifest import _run_parse, dbt_run_vars, ensure_partial_parse
from petpro.settings import Settings

MSGPACK = "partial_parse.msgpack"


def _parse_from(settings: Settings, seed: Path, target: Path) -> str:
    """Run ``dbt parse`` as a step would (the run's vars) from ``seed``; its debug log."""
    target.mkdir(parents=True)
    shutil.copy(seed, target / MSGPACK)
    _run_parse(settings, target, dbt_vars=dbt_run_vars(settings))
    return (target / "dbt.log").read_text()


def test_a_step_starts_from_the_parse_made_after_a_profile_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PETPRO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PETPRO_DUCKDB_MEMORY_LIMIT", "256MB")
    # The last run's parse, kept for these vars, made with the profile as it was ...
    old = tmp_path / "old"
    _run_parse(Settings(), old, dbt_vars=dbt_run_vars(Settings()))
    cached = tmp_path / "partial_parse-cached.msgpack"
    shutil.copy(old / MSGPACK, cached)
    os.utime(cached, (1_700_000_000, 1_700_000_000))
    # ... then the profile changes and ensure_partial_parse parses the project again.
    monkeypatch.setenv("PETPRO_DUCKDB_MEMORY_LIMIT", "320MB")
    settings = Settings()
    ensure_partial_parse(settings)
    fresh = settings.warehouse_dir / "dagster_dbt" / MSGPACK
    assert fresh.exists()

    assert parse_seed(cached, fresh) == fresh
    log = _parse_from(settings, fresh, tmp_path / "step")
    assert "Partial parsing enabled" in log and "Unable to do partial parsing" not in log
    # Starting from the cache instead costs the second full parse this guards against.
    log = _parse_from(settings, cached, tmp_path / "from-cache")
    assert "Unable to do partial parsing because profile has changed" in log


def test_the_seed_is_whichever_parse_exists(tmp_path: Path) -> None:
    cached, fresh = tmp_path / "cached.msgpack", tmp_path / "fresh.msgpack"
    assert parse_seed(cached, fresh) is None
    cached.write_bytes(b"c")
    assert parse_seed(cached, fresh) == cached
    fresh.write_bytes(b"f")
    os.utime(fresh, (1_700_000_000, 1_700_000_000))
    assert parse_seed(cached, fresh) == cached
    cached.unlink()
    assert parse_seed(cached, fresh) == fresh
