"""The dbt manifest the code location is built from, prepared at build/dev time.

Definitions are built from ``dbt_project/target/dagster/manifest.json`` (a target path of
its own, so a concurrent ``dbt build`` elsewhere never leaves a half-written manifest under
our feet; ``target/dagster-spark/`` with ``PETPRO_ENGINE=spark``, whose test ids differ). It
is produced by ``dbt parse`` from ``make env`` / ``make ui``
(``python -m orchestration.manifest``), and — only when it is missing or older than a file of
the dbt project, e.g. after an edit under ``dagster dev`` — when the definitions load. An
import with a fresh manifest costs a few ``stat`` calls, never a parse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from petpro.errors import PetProError
from petpro.settings import Settings, get_settings
from warehouse.dbt import dbt_env

TARGET_PATH = "target/dagster"


def target_path(settings: Settings) -> str:
    """The manifest's folder under the dbt project, one per engine (``target/dagster`` for
    DuckDB, ``target/dagster-spark`` for Spark). The ids of tests on a quoted column embed a
    hash of the quoted name (``"interval"`` vs `` `interval` ``), so a manifest parsed for one
    engine names tests the other engine's dbt never reports, and dagster-dbt fails on them."""
    if settings.engine == "duckdb":
        return TARGET_PATH
    return f"{TARGET_PATH}-{settings.engine}"


class ManifestError(PetProError):
    """The dbt manifest could not be prepared."""


def manifest_path(settings: Settings) -> Path:
    return settings.dbt_project_dir / target_path(settings) / "manifest.json"


def dagster_dbt_target(settings: Settings) -> Path:
    """Where dagster-dbt puts each invocation's target folder (under the home, not the repo)."""
    return settings.warehouse_dir / "dagster_dbt"


def dbt_run_vars(settings: Settings) -> dict[str, Any]:
    """The ``--vars`` of every dbt invocation of a Dagster run, whatever the kind of run: dbt
    re-parses the whole project when the vars differ from those of the parse it starts from,
    so they are the same for full, nightly and intraday runs, and nothing that changes from run
    to run is among them (the window goes through the launcher, :mod:`orchestration.dbt_launcher`).
    ``test_window`` narrows the tests only when there is a window (macro test_window)."""
    return {"late_days": settings.late_days, "test_window": True}


def ensure_partial_parse(settings: Settings) -> None:
    """Seed ``partial_parse.msgpack`` in the dagster-dbt target folder of this home, which
    dagster-dbt copies into every invocation's folder: dbt then re-parses only what changed
    instead of the whole project on every step. Parsed with the runs' vars, so that even the
    first step after a change of the project only re-parses the changed files."""
    target = dagster_dbt_target(settings)
    msgpack = target / "partial_parse.msgpack"
    if msgpack.exists() and not _older_than_project(msgpack, settings):
        return
    _run_parse(settings, target, dbt_vars=dbt_run_vars(settings))


def prune_invocation_dirs(settings: Settings, keep: int = 8) -> None:
    """Remove all but the newest ``keep`` per-invocation target folders."""
    import shutil

    target = dagster_dbt_target(settings)
    if not target.is_dir():
        return
    dirs = sorted((p for p in target.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in dirs[: max(len(dirs) - keep, 0)]:
        shutil.rmtree(old, ignore_errors=True)


def _project_files(project_dir: Path) -> list[Path]:
    files = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for sub in ("models", "macros", "tests", "seeds", "snapshots", "analyses"):
        base = project_dir / sub
        if base.is_dir():
            files.extend(p for p in base.rglob("*") if p.is_file())
    return [p for p in files if p.exists()]


def _older_than_project(path: Path, settings: Settings) -> bool:
    built = path.stat().st_mtime
    return any(p.stat().st_mtime > built for p in _project_files(settings.dbt_project_dir))


def is_stale(settings: Settings) -> bool:
    path = manifest_path(settings)
    return not path.exists() or _older_than_project(path, settings)


def venv_python() -> str:
    """The Python of this environment (``sys.prefix`` survives an interpreter started through
    a resolved symlink, as Dagster's code server is)."""
    candidate = Path(sys.prefix) / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def dbt_executable() -> str:
    """The dbt of this environment: next to the venv's Python (``sys.prefix`` survives
    interpreters started through a resolved symlink, as Dagster's code server is)."""
    import shutil

    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def prepare_manifest(
    settings: Settings, *, force: bool = False, env: Mapping[str, str] | None = None
) -> Path:
    """Run ``dbt parse`` into :func:`target_path` when the manifest is missing or stale."""
    path = manifest_path(settings)
    if not force and not is_stale(settings):
        return path
    _run_parse(settings, settings.dbt_project_dir / target_path(settings), env)
    return path


def _run_parse(
    settings: Settings,
    target: Path,
    env: Mapping[str, str] | None = None,
    *,
    dbt_vars: Mapping[str, Any] | None = None,
) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            dbt_executable(),
            "parse",
            "--quiet",
            "--project-dir",
            str(settings.dbt_project_dir),
            "--profiles-dir",
            str(settings.dbt_project_dir),
            "--target-path",
            str(target),
            *(["--vars", json.dumps(dict(dbt_vars))] if dbt_vars else []),
        ],
        cwd=settings.dbt_project_dir,
        env={**dbt_env(settings, artefacts=False), "DBT_LOG_PATH": str(target), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    manifest = target / "manifest.json"
    if proc.returncode != 0 or not manifest.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise ManifestError(
            "`dbt parse` failed, so the Dagster definitions cannot be built: "
            + (" | ".join(tail) or f"exit code {proc.returncode}")
        )
    # A parse that changed nothing may keep old mtimes: touch so staleness is settled.
    os.utime(manifest)
    if (target / "partial_parse.msgpack").exists():
        os.utime(target / "partial_parse.msgpack")


if __name__ == "__main__":  # `python -m orchestration.manifest` from the Makefile
    print(prepare_manifest(get_settings(), force="--force" in sys.argv))
