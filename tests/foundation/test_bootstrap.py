"""`make test` bootstraps the Debian packages the tests need, so CI only calls `make test`.

The dashboard's browser test drives Debian's chromium; a fresh machine does not have it. The
Makefile's ``system`` target (a prerequisite of ``test``) runs ``scripts/system-packages.sh``,
which installs missing packages as root and otherwise stops with one line saying what to
install. These tests run the script for real, as an unprivileged user where needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from petpro.settings import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "system-packages.sh"


def _as_unprivileged() -> list[str]:
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root without setpriv: cannot drop privileges for this test")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_present_commands_need_nothing() -> None:
    proc = subprocess.run(
        [str(SCRIPT), "sh=dash", f"{shutil.which('python3')}=python3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


def test_missing_package_without_privileges_is_one_clear_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*_as_unprivileged(), str(SCRIPT), "/nonexistent/petpro-browser=petpro-test-browser"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "petpro-test-browser" in lines[0] and "apt-get install" in lines[0]


def test_make_test_bootstraps_chromium_and_ci_only_calls_make_test() -> None:
    dry = subprocess.run(
        ["make", "-n", "test"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "scripts/system-packages.sh" in dry and "/usr/bin/chromium=chromium" in dry
    assert dry.index("system-packages.sh") < dry.index("-m pytest")
    commands = [
        line.strip()
        for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[-1] == "make test"
    assert not any("apt-get" in c or "chromium" in c for c in commands)


# The third-party packages a refresh imports in its processes (the refresh, its ingestion
# worker, dbt): the ones whose compilation from source cost seconds per process.
_IMPORTED_BY_A_REFRESH = ("dagster", "dbt", "great_expectations", "pyarrow", "duckdb", "pandas")


def test_the_environment_imports_compiled_bytecode() -> None:
    """`make` compiles the environment's bytecode at install: a process that may not write
    .pyc files (PYTHONDONTWRITEBYTECODE, a read-only install) would compile each imported
    module from source every time (docs/benchmarks.md, "Bytecode compiled at install")."""
    import importlib.util

    missing: dict[str, int] = {}
    for name in _IMPORTED_BY_A_REFRESH:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed"
        sources = list(Path(spec.origin).parent.rglob("*.py"))
        absent = [p for p in sources if not Path(importlib.util.cache_from_source(str(p))).exists()]
        if absent:
            missing[name] = len(absent)
    assert not missing, (
        f"modules without compiled bytecode, by package: {missing}; "
        "the environment was not built by `make env` (uv sync --compile-bytecode)"
    )
