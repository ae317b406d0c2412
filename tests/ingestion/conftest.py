"""Fixtures of the ingestion tests: a small seeded source and a second PETPRO_HOME."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from petpro.settings import Settings, get_settings
from tests.ingestion.oracles import SMALL


@pytest.fixture
def seeded(settings: Settings, source_url: str) -> Settings:
    """Settings on a source seeded with a small deterministic history."""
    from sourcedb.seed import seed_source

    seed_source(source_url, **SMALL, seed=11, timezone=settings.timezone)
    return settings


@pytest.fixture
def other_home(tmp_path: Path, source_url: str) -> Iterator[Settings]:
    """A second, independent PETPRO_HOME on the same source (to compare full vs incremental)."""
    home = tmp_path / "other_home"
    home.mkdir()
    yield get_settings(home=home, source_url=source_url, pii_key=os.environ["PETPRO_PII_KEY"])
