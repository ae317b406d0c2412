"""Runs every benchmark in ``bench/`` (``make bench``); not tests, they print figures.

Each ``bench/bench_<area>.py`` module exposes ``main(argv: list[str]) -> None``. With no
arguments all of them run in name order; ``python -m bench seed extract`` runs the named
ones. Sizes are set by each module's own options and environment variables.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> None:
    names = argv or available()
    unknown = [n for n in names if n not in available()]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; available: {available()}")
    for name in names:
        print(f"\n=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        module.main([])


if __name__ == "__main__":
    main(sys.argv[1:])
