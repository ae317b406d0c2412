"""Fixtures of the export tests: a hand-built publication in a private ``PETPRO_HOME``.

The real pipeline (seed → ingest → dbt → publish) is not needed to test exports:
``tests/exports/publication.py`` writes every mart of the data contract with exactly its column
names and DuckDB types and a few hand-written rows each (hostile and Unicode text included)
into a build database and publishes it with the real publisher. No PostgreSQL is started for
these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from petpro.settings import Settings, get_settings
from tests.exports.publication import build_publication
from tests.exports.smtp import Mailbox, running_smtp


@dataclass
class Published:
    settings: Settings
    home: Path
    make_settings: Callable[..., Settings]


@pytest.fixture
def export_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "petpro_home"
    home.mkdir()
    monkeypatch.setenv("PETPRO_HOME", str(home))
    monkeypatch.delenv("PETPRO_TIMEZONE", raising=False)
    monkeypatch.delenv("PETPRO_EXPORT_RETENTION", raising=False)
    return home


@pytest.fixture
def published(export_home: Path) -> Published:
    """A private home holding a hand-built publication (no PostgreSQL needed)."""
    settings = get_settings(home=export_home)
    build_publication(settings)

    def make_settings(**overrides: object) -> Settings:
        return get_settings(home=export_home, **overrides)

    return Published(settings, export_home, make_settings)


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that keeps what it receives (tests/exports/smtp.py)."""
    with running_smtp() as box:
        yield box
