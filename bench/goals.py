"""The ``GOAL`` line a benchmark prints for each of the issue's goals: figure, ratio, verdict.

One format for every benchmark that states a goal, so ``make bench``'s output can be read (or
grepped for ``GOAL``) the same way whichever benchmark printed it.
"""

from __future__ import annotations


def goal(name: str, ratio: float, limit: float, figure: str, target: str) -> None:
    """Print one goal line; ``ratio`` at or under ``limit`` passes, above it is short."""
    verdict = "pass" if ratio <= limit else "short"
    print(
        f"GOAL {name}: {figure} (goal {target}; ratio {ratio / limit:.2f} of the goal) — {verdict}",
        flush=True,
    )
