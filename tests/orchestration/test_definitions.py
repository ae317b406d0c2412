"""The code location loads and is well-formed; schedules, helpers and alerts behave.

Fast tests (no pipeline run, except one tiny failing run for the failure sensor).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    Definitions,
    build_run_status_sensor_context,
    build_schedule_context,
)

from ingestion.contracts import CONTRACTS
from orchestration import tags
from orchestration.defs.ingestion import raw_key
from orchestration.location import build_definitions
from orchestration.partitions import dbt_window, previous_day, window_dates
from petpro.settings import REPO_ROOT, Settings, get_settings


def _settings(
    monkeypatch: pytest.MonkeyPatch, home: Path, tz: str = "UTC", url: str = ""
) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PETPRO_HOME", str(home))
    monkeypatch.setenv("PETPRO_TIMEZONE", tz)
    monkeypatch.setenv("PETPRO_PII_KEY", "test-pii-key")
    monkeypatch.setenv("PETPRO_PARTITIONS_START", "2025-01-01")
    if url:
        monkeypatch.setenv("PETPRO_SOURCE_URL", url)
    return get_settings()


@pytest.fixture(scope="module")
def tokyo_defs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Definitions, Settings]:
    with pytest.MonkeyPatch.context() as mp:
        settings = _settings(mp, tmp_path_factory.mktemp("defs") / "home", tz="Asia/Tokyo")
        return build_definitions(settings), settings


def test_definitions_load_and_validate(tokyo_defs: tuple[Definitions, Settings]) -> None:
    defs, _ = tokyo_defs
    Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = set(graph.get_all_asset_keys())
    assert {raw_key(t) for t in CONTRACTS} <= keys
    assert {AssetKey("published_warehouse"), AssetKey("report_exports")} <= keys
    for key in keys:
        node = graph.get(key)
        assert node.group_name and node.group_name != "default", key
        assert (node.description or "").strip(), key
        assert node.kinds, key
    assert graph.get(raw_key("activities")).partitions_def is not None
    assert graph.get(raw_key("users")).partitions_def is None
    # Every dbt model is in one partitioned set: one dbt invocation per refresh.
    dbt_sets = {
        graph.get(AssetKey(name)).assets_def
        for name in ("stg_petpro__users", "int_customer_daily_activity", "mart_active_users")
    }
    assert len(dbt_sets) == 1 and dbt_sets.pop().partitions_def is not None
    # Quality checks: errors block, warnings do not.
    specs = {k: graph.get_check_spec(k) for k in graph.asset_check_keys}
    for table in CONTRACTS:
        from dagster import AssetCheckKey

        assert specs[AssetCheckKey(raw_key(table), "quality_errors")].blocking
        assert not specs[AssetCheckKey(raw_key(table), "quality_warnings")].blocking
    # dbt tests became checks; error-severity ones are blocking.
    assert any(s.blocking and s.name.startswith("unique_stg_petpro__users") for s in specs.values())
    for assets_def in graph.assets_defs:
        assert assets_def.op.pool is None, assets_def.op.name  # the build lock instead
    job_names = {j.name for j in defs.resolve_all_job_defs()}
    assert {"nightly_refresh", "full_rebuild", "backfill_activities", "export_reports"} <= job_names


def test_every_dbt_source_maps_to_a_raw_asset(tokyo_defs: tuple[Definitions, Settings]) -> None:
    defs, settings = tokyo_defs
    manifest = json.loads(
        (settings.dbt_project_dir / "target" / "dagster" / "manifest.json").read_text()
    )
    graph = defs.resolve_asset_graph()
    sources = manifest["sources"].values()
    assert sources
    for source in sources:
        key = raw_key(source["name"])
        assert graph.has(key), f"orphan dbt source {source['unique_id']}"
        assert graph.get(key).group_name == "raw"
        # The staging model reading this source depends on the raw asset (lineage).
    stg_users = graph.get(AssetKey("stg_petpro__users"))
    assert raw_key("users") in stg_users.parent_keys
    published = graph.get(AssetKey("published_warehouse"))
    marts = {k for k in graph.get_all_asset_keys() if k.path[-1].startswith("mart_")}
    assert marts and marts <= published.parent_keys
    assert AssetKey("published_warehouse") in graph.get(AssetKey("report_exports")).parent_keys


def test_dagster_cli_validates_the_code_location(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PETPRO_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path),
        "DAGSTER_DISABLE_TELEMETRY": "true",
    }
    (tmp_path / "home").mkdir()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m",
         "orchestration.definitions"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_dagster_yaml_serialises_writers_and_disables_telemetry() -> None:
    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    limits = config["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": tags.WRITER_TAG, "value": tags.WRITER_VALUE, "limit": 1} in limits
    # Writing steps are serialised by the build lock, which dies with its holder; a Dagster
    # pool would keep the slot of a killed run forever (see test_recovery.py).
    assert "pools" not in config["concurrency"]
    assert config["run_retries"]["enabled"] is True


@pytest.mark.parametrize(
    ("zone", "local_run", "expected"),
    [
        # 02:00 in Tokyo on the 21st is 17:00 UTC on the 20th: yesterday is the 20th locally.
        ("Asia/Tokyo", datetime(2025, 3, 21, 2, 0), "2025-03-20"),
        # First day of a month.
        ("UTC", datetime(2025, 4, 1, 2, 0), "2025-03-31"),
        # New York, the night DST starts (2025-03-09): still the previous calendar day.
        ("America/New_York", datetime(2025, 3, 10, 2, 0), "2025-03-09"),
    ],
)
def test_nightly_schedule_targets_previous_local_day(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, zone: str, local_run: datetime, expected: str
) -> None:
    from orchestration.defs.pipeline import build_nightly_schedule

    settings = _settings(monkeypatch, tmp_path / "home", tz=zone)
    from dagster import job, op

    from orchestration.partitions import activity_partitions

    @op
    def noop() -> None:
        pass

    # A stand-in target with the real partitions (the asset job needs the whole graph).
    @job(name="nightly_refresh", partitions_def=activity_partitions(settings))
    def nightly_refresh() -> None:
        noop()

    schedule = build_nightly_schedule(settings, nightly_refresh)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == zone
    when = local_run.replace(tzinfo=ZoneInfo(zone))
    with DagsterInstance.ephemeral() as instance:
        repo = Definitions(jobs=[nightly_refresh], schedules=[schedule])
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=repo.get_repository_def(),
        )
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert len(requests) == 1
    assert requests[0].partition_key == expected
    assert requests[0].tags[tags.MODE_TAG] == tags.MODE_INCREMENTAL


def test_schedules_default_running_in_business_zone(
    tokyo_defs: tuple[Definitions, Settings],
) -> None:
    defs, _ = tokyo_defs
    schedules = {s.name: s for s in defs.schedules or []}
    nightly = schedules["nightly_refresh_schedule"]
    exports = schedules["export_reports_schedule"]
    assert nightly.execution_timezone == exports.execution_timezone == "Asia/Tokyo"
    assert exports.cron_schedule == "0 3 * * *"
    assert nightly.default_status.value == "RUNNING"


def test_window_helpers() -> None:
    tz = ZoneInfo("Europe/Berlin")
    start = datetime(2025, 3, 30, tzinfo=tz)  # DST day: 23 hours long
    end = datetime(2025, 3, 31, tzinfo=tz)
    assert window_dates(start, end) == (date(2025, 3, 30), date(2025, 3, 30))
    part = (date(2025, 3, 30), date(2025, 3, 30))
    assert dbt_window(part) == part
    assert dbt_window(part, (date(2025, 3, 25), date(2025, 3, 31))) == (
        date(2025, 3, 25),
        date(2025, 3, 31),
    )
    assert previous_day(
        datetime(2025, 3, 20, 23, 30, tzinfo=ZoneInfo("UTC")), "Asia/Tokyo"
    ) == date(2025, 3, 20)


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_failure_sensor_writes_alert_and_posts_webhook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, empty_db_url: str
) -> None:
    from orchestration.defs.monitoring import run_failure_alert
    from orchestration.resources import PetProSettings

    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PETPRO_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    # A database without the PetPro schema: extraction fails (not transient: no retries).
    settings = _settings(monkeypatch, tmp_path / "home", url=empty_db_url)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("nightly_refresh")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            partition_key="2025-03-20",
            asset_selection=[raw_key("users")],
            raise_on_error=False,
        )
        assert not result.success
        failure = (
            instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_FAILURE)
            .records[0]
            .event_log_entry.dagster_event
        )
        context = build_run_status_sensor_context(
            sensor_name="run_failure_alert",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            resources={"petpro": PetProSettings.from_settings(settings)},
        ).for_run_failure()
        run_failure_alert(context)
    server.shutdown()
    lines = (settings.alerts_dir / "alerts.jsonl").read_text().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["job"] == "nightly_refresh"
    assert record["run_id"] == result.run_id
    assert record["partition"] == "2025-03-20"
    assert "raw__users" in record["reason"]
    assert _Hook.received and _Hook.received[-1]["run_id"] == result.run_id


def test_alert_never_raises_on_unreachable_webhook(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import socket

    from orchestration.alerts import alert_record, send_alert

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PETPRO_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    settings = _settings(monkeypatch, tmp_path / "home")
    path, problem = send_alert(settings, alert_record(job="j", run_id="r", reason="boom"))
    assert path is not None and json.loads(path.read_text())["reason"] == "boom"
    assert problem and "webhook" in problem


LOGGING_PROBE = """
import logging
from cli.main import configure_logging
configure_logging()
from ingestion.quality import import_gx
gx = import_gx()  # as ingestion imports it
from dagster import get_dagster_logger
gx.get_context(mode="ephemeral")  # GX logs its temporary docs-site directory at INFO
get_dagster_logger("probe").info("dagster info line")  # sets the dagster logger to DEBUG
logging.getLogger("great_expectations").warning("a library warning")
"""


def test_cli_logging_keeps_library_info_off_the_terminal(tmp_path: Path) -> None:
    # What `petpro refresh`/`petpro demo` do before running anything, then the two library
    # loggers that used to print INFO lines to the terminal.
    proc = subprocess.run(
        [sys.executable, "-c", LOGGING_PROBE],
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PETPRO_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert "ephemeral docs site" not in output
    assert "dagster info line" not in output
    assert "INFO" not in output
    assert "a library warning" in proc.stderr  # warnings still reach the person


def test_settings_resource_carries_every_non_secret_setting(tmp_path: Path) -> None:
    from orchestration.resources import SECRET_SETTINGS, PetProSettings

    # A setting added to petpro/settings.py must reach the assets through the resource.
    assert set(PetProSettings.model_fields) == set(Settings.model_fields) - SECRET_SETTINGS
    settings = get_settings(
        home=tmp_path / "home",
        timezone="Asia/Tokyo",
        late_days=5,
        partitions_start="2025-02-01",
        export_after_refresh=True,
        lock_timeout_seconds=12.5,
        pii_key="never-in-dagster-config",
    )
    resource = PetProSettings.from_settings(settings)
    assert "never-in-dagster-config" not in resource.model_dump_json()
    back = resource.settings()
    for name in PetProSettings.model_fields:
        assert getattr(back, name) == getattr(settings, name), name
