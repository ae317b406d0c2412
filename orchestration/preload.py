"""The publication step's heavy imports, started in a background thread while dbt runs.

The ``published_warehouse`` step imports the derived-mart modules (:data:`PUBLICATION_MODULES`:
the anomalies and trends of ``insights``, the scoring of ``predictions``), and with them pandas,
SciPy's distributions and scikit-learn: about 3.3 s of CPU in a refresh process that has only
loaded the definitions, measured on the 2-core machine (pandas 0.97 s, ``scipy.stats`` 1.6 s,
scikit-learn 0.74 s), all of it on the run's critical path. The dbt step before it spends its
wall time waiting on dbt's own process, so the dbt asset calls :func:`preload` first: a daemon
thread imports the modules while dbt builds, and the publication's ``import`` statements find
them loaded (or wait on Python's per-module import lock until the thread has finished them).
An import that fails in the thread is dropped (the next module is still imported): the
publication imports the module again and fails there, with the step's own error.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence

PUBLICATION_MODULES: tuple[str, ...] = ("insights.marts", "predictions.steps")


def preload(modules: Sequence[str] = PUBLICATION_MODULES) -> threading.Thread:
    """Import ``modules`` in a daemon thread; returns the (started) thread."""

    def run() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the publication step imports it again and reports it
                continue

    thread = threading.Thread(target=run, name="petpro-preload", daemon=True)
    thread.start()
    return thread
