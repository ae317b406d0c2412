"""The ``GOAL`` line a benchmark prints for each of the issue's goals (figure, ratio, verdict),
and the ``--runs`` option of the benchmarks that take medians of interleaved rounds.

One format for every benchmark that states a goal, so ``make bench``'s output can be read (or
grepped for ``GOAL``) the same way whichever benchmark printed it.
"""

from __future__ import annotations

import argparse
import os


def goal(name: str, ratio: float, limit: float, figure: str, target: str) -> None:
    """Print one goal line; ``ratio`` at or under ``limit`` passes, above it is short."""
    verdict = "pass" if ratio <= limit else "short"
    print(
        f"GOAL {name}: {figure} (goal {target}; ratio {ratio / limit:.2f} of the goal) — {verdict}",
        flush=True,
    )


def _rounds(text: str) -> int:
    rounds = int(text)
    if rounds < 3:
        raise argparse.ArgumentTypeError(
            f"{rounds}: at least 3, since every figure is the median of >= 3 interleaved rounds"
        )
    return rounds


def add_runs_option(parser: argparse.ArgumentParser, what: str, env: str) -> None:
    """``--runs``: interleaved rounds of ``what``, default 3 or ``$env``, fewer than 3 refused
    (the issue's rule: every figure is the median of at least three interleaved runs)."""
    parser.add_argument(
        "--runs",
        type=_rounds,
        # A string default goes through ``type`` too, so $env is checked like the option.
        default=os.environ.get(env, "3"),
        help=f"interleaved rounds of {what} (>= 3; default 3 or ${env})",
    )
