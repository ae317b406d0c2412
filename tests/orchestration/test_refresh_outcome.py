"""What a refresh does when there is nothing to do, and when it could not publish.

- A refresh whose source, dbt project, code and settings are unchanged since the current
  publication skips the run (same publication, no new Dagster run, one line saying so); one
  new activity in the source makes the next refresh run and publish anew (real PostgreSQL,
  ingestion, dbt and Dagster; ``cli.refresh.run_refresh`` as ``petpro refresh`` calls it).
  The intraday sensor agrees: it skips while nothing changed and asks for today's partition
  once the activity is in.
- A run Dagster calls successful in which ``published_warehouse`` was skipped (an upstream
  step yielded nothing) is a failed refresh: ``RefreshError`` with one line, and ``petpro
  refresh`` exits non-zero. Real Dagster, on a two-asset code location with the real runner.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rich.console import Console

from orchestration.runner import RefreshError, instance_for, refresh
from petpro.publication import CURRENT
from petpro.settings import REPO_ROOT, Settings, get_settings
from warehouse.inputs import INPUTS_FILE

from .conftest import SeededSource, home_settings


def _runs(settings: Settings) -> int:
    return len(instance_for(settings).get_run_records())


def _version(settings: Settings) -> str:
    return (settings.published_dir / CURRENT).resolve().name


def _intraday_tick(settings: Settings) -> Any:
    from dagster import build_sensor_context

    from orchestration.location import build_definitions
    from orchestration.resources import PetProSettings

    defs = build_definitions(settings)
    sensor = defs.get_sensor_def("intraday_refresh_sensor")
    context = build_sensor_context(
        instance=instance_for(settings),
        resources={"petpro": PetProSettings()},
        repository_def=defs.get_repository_def(),
    )
    return sensor.evaluate_tick(context)


@pytest.mark.slow
def test_unchanged_source_skips_and_a_new_activity_rebuilds(
    seeded_source: SeededSource,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.refresh import run_refresh
    from orchestration.runner import RunSummary

    settings = home_settings(monkeypatch, tmp_path / "home", seeded_source.url)
    out = io.StringIO()
    console = Console(file=out, width=400)
    day = seeded_source.end

    first = run_refresh(settings, day=day, out=console, skip_unchanged=True)
    assert isinstance(first, RunSummary)  # nothing was published: it ran
    version, runs = _version(settings), _runs(settings)
    recorded = json.loads((settings.published_dir / CURRENT / INPUTS_FILE).read_text())
    with psycopg.connect(seeded_source.url) as conn:
        activities = conn.execute("select count(*) from activities").fetchone()[0]
    assert recorded["source"]["activities"][0] == activities

    out.truncate(0)
    again = run_refresh(settings, day=day, out=console, skip_unchanged=True)
    assert not isinstance(again, RunSummary)
    assert _version(settings) == version
    assert _runs(settings) == runs
    assert f"nothing new since publication {version}" in out.getvalue()
    tick = _intraday_tick(settings)
    assert not tick.run_requests and f"nothing new since publication {version}" in (
        tick.skip_message or ""
    )

    # One new activity, the kind an app writes any minute: the next refresh must rebuild.
    with psycopg.connect(seeded_source.url) as conn:
        conn.execute(
            "insert into activities (user_id, type, description, metadata, ip_address, "
            'user_agent, "timestamp", created_at) '
            "select user_id, type, description, metadata, ip_address, user_agent, "
            "%s::timestamptz, %s::timestamptz "
            'from activities order by "timestamp" desc limit 1',
            (f"{day.isoformat()}T12:00:00+00:00",) * 2,
        )
    (request,) = _intraday_tick(settings).run_requests
    assert request.partition_key == datetime.now(UTC).date().isoformat()  # today so far
    assert request.tags["petpro/intraday"] == "true"

    out.truncate(0)
    rebuilt = run_refresh(settings, day=day, out=console, skip_unchanged=True)
    assert isinstance(rebuilt, RunSummary)
    assert "the source changed: activities" in out.getvalue()
    assert _version(settings) != version
    assert _runs(settings) == runs + 1
    recorded = json.loads((settings.published_dir / CURRENT / INPUTS_FILE).read_text())
    assert recorded["source"]["activities"][0] == activities + 1

    # Without skip_unchanged (petpro refresh --force, the demo, the schedule) it runs anyway.
    forced = run_refresh(settings, day=day, out=console)
    assert isinstance(forced, RunSummary)
    assert _runs(settings) == runs + 2


_SKIPPING_LOCATION = textwrap.dedent(
    """
    from dagster import Definitions, asset, define_asset_job
    from orchestration.partitions import activity_partitions
    from petpro.settings import get_settings

    partitions = activity_partitions(get_settings())

    @asset(partitions_def=partitions, output_required=False)
    def dbt_models():
        # Yields nothing, as a step whose models dbt skipped: downstream steps are skipped.
        if False:
            yield

    @asset(partitions_def=partitions, deps=[dbt_models])
    def published_warehouse() -> None:
        raise AssertionError("must not run")

    defs = Definitions(
        assets=[dbt_models, published_warehouse],
        jobs=[define_asset_job("nightly_refresh", partitions_def=partitions)],
    )
    """
)


@pytest.fixture
def skipping_defs(settings: Settings, tmp_path: Path) -> Iterator[object]:
    namespace: dict[str, object] = {}
    exec(compile(_SKIPPING_LOCATION, str(tmp_path / "location.py"), "exec"), namespace)
    yield namespace["defs"]


def test_a_skipped_publication_fails_the_refresh(settings: Settings, skipping_defs: object) -> None:
    day = settings.partitions_start + timedelta(days=3)
    with pytest.raises(RefreshError) as caught:
        refresh(settings, day=day, defs=skipping_defs)
    message = str(caught.value)
    assert "\n" not in message
    assert "published_warehouse was skipped" in message
    assert caught.value.summary is not None and caught.value.summary.success  # Dagster: fine


def test_petpro_refresh_exits_non_zero_when_nothing_was_published(
    settings: Settings, tmp_path: Path
) -> None:
    # The real CLI entry point, with the runner handed the skipping code location.
    script = tmp_path / "cli_with_skipping_location.py"
    script.write_text(
        _SKIPPING_LOCATION
        + textwrap.dedent(
            """
            import orchestration.location as location
            location.build_definitions = lambda settings: defs
            import sys
            from cli.main import main
            sys.argv = ["petpro", "refresh", "--force", "--date", sys.argv[1]]
            main()
            """
        )
    )
    day = settings.partitions_start + timedelta(days=3)
    proc = subprocess.run(
        [sys.executable, str(script), day.isoformat()],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "published_warehouse" in line]
    assert len(errors) == 1 and errors[0].startswith("error:"), proc.stderr


@pytest.mark.slow
def test_a_node_out_of_memory_is_named_with_the_setting_to_change(
    seeded_source: SeededSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node DuckDB cannot run within ``PETPRO_DUCKDB_MEMORY_LIMIT`` fails the refresh with
    one line naming it, DuckDB's reason and the setting. Not "blocking checks failed": tests
    that errored never read the data, so that would blame the data. Real dbt, DuckDB and
    Dagster, with a limit too small for any query."""
    home_settings(monkeypatch, tmp_path / "home", seeded_source.url)
    monkeypatch.setenv("PETPRO_DUCKDB_MEMORY_LIMIT", OOM_LIMIT)
    settings = get_settings()
    with pytest.raises(RefreshError) as caught:
        refresh(settings, full=True)
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(r"dbt (model|test) \w+ failed: Out of Memory", message), message
    assert f"PETPRO_DUCKDB_MEMORY_LIMIT={OOM_LIMIT}" in message, message
    assert "blocking checks failed" not in message, message
    assert not (settings.published_dir / CURRENT).exists()


# Below what the first staging queries need on any data (DuckDB allocates 256 KiB blocks).
OOM_LIMIT = "1MB"
