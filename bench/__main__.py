"""Runs every benchmark in ``bench/`` (``make bench``); not tests, they print figures.

Each ``bench/bench_<area>.py`` module exposes ``main(argv: list[str]) -> None``. With no
arguments all of them run in name order; ``python -m bench seed extract`` runs the named
ones, and options after a name go to that benchmark (``python -m bench extract --repeats 5``;
``python -m bench extract --help`` lists them). Sizes are set by each module's own options
and environment variables.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from petpro.errors import PetProError


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(here)])
        if m.name.startswith("bench_")
    )


def main(argv: list[str]) -> None:
    if argv[:1] in (["-h"], ["--help"]):
        print(__doc__)
        print(f"available: {' '.join(available())}")
        return
    # Each name, with the arguments that follow it up to the next name.
    names = available()
    runs: list[tuple[str, list[str]]] = []
    for token in argv:
        if token in names:
            runs.append((token, []))
        elif runs and (runs[-1][1] or token.startswith("-")):
            runs[-1][1].append(token)
        else:
            sys.exit(f"unknown benchmark {token!r}; available: {' '.join(names)}")
    runs = runs or [(name, []) for name in names]
    for name, options in runs:
        print(f"\n=== bench {name} ===", flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        try:
            module.main(options)
        except PetProError as exc:  # what is wrong and what to do, not a traceback
            sys.exit(f"bench {name}: {exc}")


if __name__ == "__main__":
    main(sys.argv[1:])
