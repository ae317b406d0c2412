"""Run dbt on the PetPro project the same way everywhere (CLI, Dagster, tests, benchmarks).

``run_dbt`` starts dbt in a subprocess (the ``dbt`` entry point next to the running Python,
else ``python -m dbt.cli.main``) with ``--project-dir``/``--profiles-dir`` set to
``dbt_project/`` and the environment that ``profiles.yml`` and the models read:
``PETPRO_HOME`` (absolute), ``PETPRO_TIMEZONE``, ``PETPRO_LATE_DAYS``, ``DBT_THREADS`` and
telemetry off. dbt's artefacts (``target/``) and logs go under
``$PETPRO_HOME/warehouse/`` so that two homes (two test sessions, the demo and a developer)
never overwrite each other's ``run_results.json`` or partial-parse state. A failed run raises
``DbtError`` naming the first node that failed and why, read from ``run_results.json``.

The engine is chosen here and nowhere else: :func:`dbt_env` sets ``DBT_TARGET`` from
``PETPRO_ENGINE`` (``build`` = DuckDB; ``spark`` = dbt-spark's session method, pyspark in
local mode; ``spark_thrift`` = a cluster) and exports the ``PETPRO_SPARK_*`` values the
Spark targets of ``profiles.yml`` read. Dagster's dbt assets inherit the same environment
(``orchestration.manifest.apply_dbt_env``), so they follow the engine unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from petpro.errors import PetProError
from petpro.settings import Settings

# dbt sub-commands that accept --vars (others would reject the option).
_VARS_COMMANDS = frozenset(
    {"build", "run", "test", "compile", "seed", "snapshot", "show", "list", "ls", "docs", "source",
     "parse", "run-operation", "retry", "clone"}
)  # fmt: skip
# Sub-commands that take --project-dir/--profiles-dir (all but the informational ones).
_PROJECT_COMMANDS = _VARS_COMMANDS | {"debug", "deps", "clean", "init"}
_FAILED = frozenset({"error", "fail", "runtime error"})


class DbtError(PetProError):
    """A dbt invocation failed; the message names the failing node and the reason."""


@dataclass(frozen=True)
class NodeResult:
    """One node of ``run_results.json``: a model, test, unit test, seed or snapshot."""

    unique_id: str
    status: str
    message: str | None
    execution_time: float
    failures: int | None = None


@dataclass(frozen=True)
class DbtRun:
    """The outcome of a dbt invocation."""

    args: list[str]
    returncode: int
    elapsed: float
    output: str = ""  # stdout+stderr when captured, else ""
    results: list[NodeResult] = field(default_factory=list)
    target_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.status] = counts.get(r.status, 0) + 1
        return counts


def dbt_executable() -> list[str]:
    """The dbt command of this environment (never a different dbt on PATH)."""
    entry = Path(sys.executable).with_name("dbt")
    if entry.exists():
        return [str(entry)]
    return [sys.executable, "-m", "dbt.cli.main"]


def target_dir(settings: Settings) -> Path:
    """Where dbt writes manifest.json, run_results.json and the docs site for this home."""
    return settings.warehouse_dir / "dbt_target"


def log_dir(settings: Settings) -> Path:
    return settings.warehouse_dir / "dbt_logs"


def dbt_target(settings: Settings) -> str:
    """The profiles.yml target of the configured engine."""
    if settings.engine == "spark":
        return "spark_thrift" if settings.spark_method == "thrift" else "spark"
    return "build"


def spark_env(settings: Settings) -> dict[str, str]:
    """The ``PETPRO_SPARK_*`` variables the Spark targets of profiles.yml read."""
    return {
        "PETPRO_SPARK_LAKE_URL": settings.spark_lake_location,
        "PETPRO_SPARK_WAREHOUSE_URL": settings.spark_warehouse_location,
        "PETPRO_SPARK_SCHEMA": settings.spark_schema,
        "PETPRO_SPARK_MASTER": settings.spark_master,
        "PETPRO_SPARK_DRIVER_MEMORY": settings.spark_driver_memory,
        "PETPRO_SPARK_SHUFFLE_PARTITIONS": str(settings.spark_shuffle_partitions),
        "PETPRO_SPARK_HOST": settings.spark_host,
        "PETPRO_SPARK_PORT": str(settings.spark_port),
        "PETPRO_SPARK_USER": settings.spark_user,
        "PETPRO_SPARK_LOG4J": str(settings.dbt_project_dir / "spark" / "log4j2.properties"),
    }


def check_engine(settings: Settings) -> None:
    """Raise ``DbtError`` with the fix when the configured engine cannot run here."""
    if settings.engine != "spark":
        return
    if importlib.util.find_spec("dbt.adapters.spark") is None:
        raise DbtError(
            "PETPRO_ENGINE=spark needs dbt-spark and pyspark: install the optional group with "
            "`.tools/bin/uv sync --group spark` (make env does)"
        )
    if settings.spark_method == "session":
        if importlib.util.find_spec("pyspark") is None:
            raise DbtError(
                "PETPRO_ENGINE=spark (session method) needs pyspark: run "
                "`.tools/bin/uv sync --group spark`"
            )
        java_home = os.environ.get("JAVA_HOME")
        java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
        if not java or not Path(java).exists():
            raise DbtError(
                "PETPRO_ENGINE=spark runs Spark in this process and needs Java 17: install it "
                "(`apt-get install openjdk-17-jre-headless`, or `make system`) or set JAVA_HOME"
            )
    elif importlib.util.find_spec("pyhive") is None:
        raise DbtError(
            "PETPRO_SPARK_METHOD=thrift needs PyHive: run `.tools/bin/uv sync --group spark`"
        )


def dbt_env(settings: Settings, *, inherit: bool = True, artefacts: bool = True) -> dict[str, str]:
    """The environment dbt runs with, defined once for every caller (CLI, Dagster, tests).

    The variables ``profiles.yml`` and the models read (absolute ``PETPRO_HOME``, time zone,
    late days, threads), telemetry and the network version check off and, with
    ``artefacts``, this home's target and log folders. ``inherit`` starts from
    ``os.environ`` (PATH, HOME...); without it only the project's own variables are returned,
    for a caller that adds them to an environment of its own (dagster-dbt sets a target
    folder per invocation, so it takes ``artefacts=False``).
    """
    env = dict(os.environ) if inherit else {}
    env.update(spark_env(settings))
    if settings.engine == "spark":
        # pyspark warns about pandas 3 on import; dbt-spark never uses pandas.
        env["PYTHONWARNINGS"] = "ignore::FutureWarning"
    env.update(
        {
            "DBT_TARGET": dbt_target(settings),
            "PETPRO_HOME": str(Path(settings.home).resolve()),
            "PETPRO_TIMEZONE": settings.timezone,
            "PETPRO_LATE_DAYS": str(settings.late_days),
            "DBT_THREADS": str(settings.dbt_threads),
            "PETPRO_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DO_NOT_TRACK": "1",
            # No version check against the network on every invocation.
            "DBT_VERSION_CHECK": "false",
        }
    )
    if artefacts:
        env["DBT_TARGET_PATH"] = str(target_dir(settings))
        env["DBT_LOG_PATH"] = str(log_dir(settings))
    return env


def build_command(
    settings: Settings, args: list[str], vars: dict[str, Any] | None = None
) -> list[str]:
    """The full argv: dbt, the caller's arguments, then project/profile dirs and --vars."""
    args = list(args)
    command = dbt_executable() + args
    sub = args[0] if args and not args[0].startswith("-") else None
    project = str(settings.dbt_project_dir)
    if sub in _PROJECT_COMMANDS:
        if "--project-dir" not in args:
            command += ["--project-dir", project]
        if "--profiles-dir" not in args:
            command += ["--profiles-dir", project]
    if vars:
        if sub not in _VARS_COMMANDS:
            raise DbtError(f"`dbt {sub}` does not take --vars; drop the vars or use build/run/test")
        if "--vars" in args:
            raise DbtError("give dbt vars either in the arguments or as `vars`, not both")
        command += ["--vars", json.dumps(vars, default=str)]
    return command


def read_results(path: Path) -> list[NodeResult]:
    """The node results of a run_results.json file (empty when absent or unreadable)."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [
        NodeResult(
            unique_id=str(r.get("unique_id", "?")),
            status=str(r.get("status", "?")),
            message=r.get("message"),
            execution_time=float(r.get("execution_time") or 0.0),
            failures=r.get("failures"),
        )
        for r in payload.get("results", [])
    ]


def read_freshness(path: Path) -> list[NodeResult]:
    """The results of `dbt source freshness` (sources.json), as node results."""
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    out = []
    for r in payload.get("results", []):
        age = r.get("max_loaded_at_time_ago_in_s")
        message = r.get("error") or (
            f"newest row loaded {age / 86400:.1f} days ago (max_loaded_at {r.get('max_loaded_at')})"
            if isinstance(age, int | float)
            else None
        )
        out.append(
            NodeResult(
                unique_id=str(r.get("unique_id", "?")),
                status=str(r.get("status", "?")),
                message=message,
                execution_time=float(r.get("execution_time") or 0.0),
            )
        )
    return out


def failure_line(
    args: list[str], returncode: int, results: list[NodeResult], output: str, logs: Path
) -> str:
    """One line: which node failed and why, or the last error dbt printed."""
    cmd = "dbt " + " ".join(args)
    failed = [r for r in results if r.status in _FAILED]
    if failed:
        first = failed[0]
        reason = " ".join((first.message or first.status).split())
        if len(reason) > 300:
            reason = reason[:300] + "…"
        more = f" (and {len(failed) - 1} more failed node(s))" if len(failed) > 1 else ""
        return f"`{cmd}` failed: {first.unique_id} {first.status}: {reason}{more}; details in {logs / 'dbt.log'}"
    errors = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and ("error" in line.lower() or "Error" in line)
    ]
    hint = f": {' '.join(errors[-1].split())[:300]}" if errors else ""
    return f"`{cmd}` failed with exit code {returncode}{hint}; details in {logs / 'dbt.log'}"


def node_error(results: list[NodeResult], settings: Settings) -> str | None:
    """One line naming the first node dbt could not run, and why, models before tests (None
    when nothing errored). A test that *fails* found bad data and is reported as a check; a
    test that *errors* never looked at the data (out of memory, a missing table), so calling
    it a failed check would blame the data. DuckDB out of memory names the setting to change."""
    errored = sorted(
        (r for r in results if r.status == "error"),
        key=lambda r: r.unique_id.startswith(("test.", "unit_test.")),
    )
    if not errored:
        return None
    first = errored[0]
    reason = " ".join((first.message or first.status).split())
    # dbt opens with "Runtime Error in model <name> (<path>)", which the line already says.
    reason = re.sub(r"^[\w ]*Error in \w+ \S+ \([^)]*\) ", "", reason)
    cut = reason.find(" Possible solutions:")
    reason = reason[:cut] if cut > 0 else reason
    if len(reason) > 300:
        reason = reason[:300] + "…"
    # unique_id: <resource type>.<package>.<name>[.<hash of a test>]
    kind, _, name = [*first.unique_id.split("."), "?", "?"][:3]
    line = f"dbt {kind} {name} failed: {reason}"
    if "Out of Memory" in reason:
        line += (
            f"; DuckDB may use PETPRO_DUCKDB_MEMORY_LIMIT={settings.duckdb_memory_limit}: raise it"
        )
        if settings.dbt_threads > 1:
            # Nodes running side by side share the pool (docs/warehouse.md, "Memory").
            line += f", or lower PETPRO_DBT_THREADS={settings.dbt_threads}"
    more = len(errored) - 1
    return line + (f" (and {more} more node(s) errored)" if more else "")


def run_dbt(
    settings: Settings,
    args: list[str],
    *,
    vars: dict[str, Any] | None = None,
    capture: bool = False,
) -> DbtRun:
    """Run ``dbt <args>`` on the project for ``settings``; raise ``DbtError`` on failure.

    ``capture`` keeps dbt's output in ``DbtRun.output`` instead of printing it.
    """
    check_engine(settings)
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir(settings)
    results_file = target / "run_results.json"
    results_file.unlink(missing_ok=True)  # never report a previous run's results
    (target / "sources.json").unlink(missing_ok=True)
    command = build_command(settings, args, vars)
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command,
            cwd=settings.dbt_project_dir,
            env=dbt_env(settings),
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise DbtError(f"could not start dbt ({command[0]}): {exc}; run `make env`") from exc
    elapsed = time.perf_counter() - started
    results = read_results(results_file) or read_freshness(target / "sources.json")
    run = DbtRun(
        args=list(args),
        returncode=proc.returncode,
        elapsed=elapsed,
        output=proc.stdout or "",
        results=results,
        target_dir=target,
    )
    if proc.returncode != 0:
        raise DbtError(
            failure_line(list(args), proc.returncode, results, run.output, log_dir(settings))
        )
    return run
