"""The import graph keeps its floors: no package imports one above it, nobody imports Dagster privately.

Floors, from the ground up (ARCHITECTURE.md): ``petpro`` (settings, errors, vocabulary) <
``sourcedb`` < ``ingestion`` < ``warehouse`` < ``insights`` < ``predictions`` < ``exports`` <
``serving`` < ``orchestration`` < ``cli``. A module may import its own package or any package
on a lower floor. Only ``orchestration`` and ``cli`` may import Dagster, and nothing may import
``dagster._…`` (private API that changes without notice). Every import is checked, including
imports inside functions and ``importlib.import_module("…")`` calls with a literal name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from petpro.settings import REPO_ROOT

FLOORS: tuple[str, ...] = (
    "petpro",
    "sourcedb",
    "ingestion",
    "warehouse",
    "insights",
    "predictions",
    "exports",
    "serving",
    "orchestration",
    "cli",
)
MAY_IMPORT_DAGSTER = frozenset({"orchestration", "cli"})


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every absolute module name the code imports, with its line number."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            # `from dagster import _core` names a private module without a dotted path.
            yield from (
                (node.lineno, f"{node.module}.{alias.name}")
                for alias in node.names
                if alias.name.startswith("_")
            )
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def violations(package: str, source: str, where: str) -> list[str]:
    """What is wrong with the imports of one module of ``package``."""
    found: list[str] = []
    floor = FLOORS.index(package)
    for line, module in imported_modules(ast.parse(source)):
        top = module.split(".")[0]
        if top in FLOORS and FLOORS.index(top) > floor:
            found.append(f"{where}:{line} imports {module} (floor {top} is above {package})")
        if top == "dagster" or top.startswith("dagster_"):
            if module.startswith("dagster._"):
                found.append(f"{where}:{line} imports private Dagster API {module}")
            elif package not in MAY_IMPORT_DAGSTER:
                found.append(f"{where}:{line} imports {module}: libraries never import Dagster")
    return found


def test_the_checker_catches_an_arrow_running_back_up() -> None:
    upward = "def f():\n    from serving.app import create_app\n"
    assert violations("exports", upward, "x.py") == [
        "x.py:2 imports serving.app (floor serving is above exports)"
    ]
    assert violations("ingestion", "import dagster\n", "x.py")
    # Spelled in two parts so that a text search of the tree for private-API imports
    # finds real ones only, not this sample of one.
    private = "from dagster." + "_core.events import X\n"
    assert violations("orchestration", private, "x.py")
    assert violations("orchestration", "from dagster import _core\n", "x.py")
    assert violations("petpro", "importlib.import_module('cli.main')\n", "x.py")
    assert not violations("cli", "from orchestration import definitions\nimport dagster\n", "x.py")


@pytest.mark.parametrize("package", [p for p in FLOORS if (REPO_ROOT / p).is_dir()])
def test_no_package_imports_a_floor_above_it(package: str) -> None:
    found: list[str] = []
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        where = str(path.relative_to(REPO_ROOT))
        found += violations(package, path.read_text(encoding="utf-8"), where)
    assert not found, "\n".join(found)
