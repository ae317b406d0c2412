"""A child process that dies with its parent: the one place that asks Linux for it.

Processes started for a run must not outlive the process that started them: a ``kill -9`` of
a run would otherwise leave its ingestion worker (:mod:`petpro.child_worker`) writing the lake,
or its dbt (``orchestration/dbt_launcher.py``) writing ``build.duckdb``, after the run's lock
is released. :func:`die_with_parent` asks the kernel to SIGKILL the calling process when its
parent exits (``PR_SET_PDEATHSIG``, inherited across ``exec``, so the dbt the launcher becomes
keeps it) and then checks the parent is still there, closing the window in which it died
before the request took effect. Standard library only: the dbt launcher imports it before
every dbt start.
"""

from __future__ import annotations

import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> bool:
    """Have Linux SIGKILL this process when its parent exits; False if ``parent`` (the
    process that started this one) is already gone. Elsewhere than Linux: only the check."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return os.getppid() == parent
